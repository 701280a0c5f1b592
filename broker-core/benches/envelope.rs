//! The local AES-256-GCM half of envelope encryption, for 64 B, 4 KB and
//! 64 KB secrets: to show it is negligible next to the KMS round trip
//! (`cargo bench -p broker-core`; docs/BENCHMARKS.md).

use broker_core::blob::Blob;
use broker_core::context::{BindingDigest, EncryptionContext};
use broker_core::envelope::{open, seal, DataKey, WrappedKey};
use broker_core::{KeyMode, SecretName, SecretValue, WorkspaceId};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn envelope(c: &mut Criterion) {
    let ws = WorkspaceId::new("bench-ws").expect("valid");
    let name = SecretName::new("bench-secret").expect("valid");
    let ctx = EncryptionContext {
        workspace: &ws,
        secret: &name,
    };
    let key = DataKey::from_kms_plaintext(vec![7; 32]).expect("32 bytes");
    let edk = vec![1u8; 184]; // the size of a real KMS CiphertextBlob
    let wrapped = WrappedKey {
        key_mode: KeyMode::Byok,
        key_arn: "arn:aws:kms:us-east-1:222222222222:key/00000000-0000-4000-8000-000000000000",
        encrypted_data_key: &edk,
    };
    let binding = BindingDigest::of(None);
    let mut group = c.benchmark_group("envelope");
    for size in [64usize, 4 * 1024, 64 * 1024] {
        let value = SecretValue::new(vec![b's'; size]).expect("in bounds");
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &value, |b, v| {
            b.iter(|| seal(v, &key, &wrapped, &ctx, &binding).expect("seals"))
        });
        let blob = Blob::decode(&seal(&value, &key, &wrapped, &ctx, &binding).expect("seals"))
            .expect("parses");
        group.bench_with_input(BenchmarkId::new("open", size), &blob, |b, blob| {
            b.iter(|| open(blob, &key, &ctx, &binding).expect("opens"))
        });
    }
    group.finish();
}

criterion_group!(benches, envelope);
criterion_main!(benches);
