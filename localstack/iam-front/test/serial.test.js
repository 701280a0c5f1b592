import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Serial } from '../src/serial.js';

test('tasks never overlap and run in the order given', async () => {
  const serial = new Serial();
  let running = 0;
  let most = 0;
  const order = [];
  // Later tasks are quicker: run concurrently, they would finish first.
  const tasks = [30, 20, 10, 0].map((ms, i) =>
    serial.run(async () => {
      running += 1;
      most = Math.max(most, running);
      await sleep(ms);
      order.push(i);
      running -= 1;
      return i;
    }),
  );
  assert.equal(serial.waiting, 4);
  assert.deepEqual(await Promise.all(tasks), [0, 1, 2, 3]);
  assert.equal(most, 1, 'one at a time');
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(serial.waiting, 0);
});

test('a guarded read-then-write under a burst admits exactly the limit', async () => {
  // What moto does per UpdateItem: read the count, yield, write it back.
  const serial = new Serial();
  let stored = 0;
  const guardedAdd = async () => {
    const seen = stored;
    await sleep(1);
    if (seen >= 3) return false;
    stored = seen + 1;
    return true;
  };
  const won = (await Promise.all(Array.from({ length: 40 }, () => serial.run(guardedAdd)))).filter(Boolean);
  assert.equal(won.length, 3);
  assert.equal(stored, 3);
  // The same burst without the queue lets every writer through: the test
  // above would fail if `run` did not serialize.
  stored = 0;
  const raced = (await Promise.all(Array.from({ length: 40 }, guardedAdd))).filter(Boolean);
  assert.ok(raced.length > 3, `unserialized: ${raced.length}`);
});

test('a failing task is passed on and does not stop the next', async () => {
  const serial = new Serial();
  const failed = serial.run(async () => {
    throw new Error('moto unreachable');
  });
  const next = serial.run(async () => 'ok');
  await assert.rejects(failed, /moto unreachable/);
  assert.equal(await next, 'ok');
  assert.equal(serial.waiting, 0);
});
