// One-at-a-time execution, for the DynamoDB relay.
//
// DynamoDB makes every write to one item atomic: of many concurrent
// UpdateItems guarded by a condition, each sees the one before it. moto's
// server runs each request on its own thread with no lock between the
// condition and the update, so a burst of guarded writes can all pass
// (two writers both read `probes = 2`, both write 3). The probe breaker's
// bound and the in-flight slots rest on that atomicity, so the front
// relays DynamoDB requests to moto one at a time (server.js): the stack is
// then at least as strict as DynamoDB (linearizable for the whole table,
// not only per item). What it costs: DynamoDB requests queue behind each
// other, a few milliseconds each (moto already holds Python's lock for
// most of each one).

/** Runs the tasks given to `run` one after another, in the order given. */
export class Serial {
  #tail = Promise.resolve();
  #waiting = 0;

  /**
   * Run `task` (a function returning a promise) once every task given
   * before it has settled; resolves or rejects as the task does. A task
   * that fails does not stop the ones after it.
   */
  run(task) {
    this.#waiting += 1;
    const result = this.#tail.then(() => task());
    this.#tail = result.then(
      () => this.#settled(),
      () => this.#settled(),
    );
    return result;
  }

  /** Tasks given and not yet settled (the running one included). */
  get waiting() {
    return this.#waiting;
  }

  #settled() {
    this.#waiting -= 1;
  }
}
