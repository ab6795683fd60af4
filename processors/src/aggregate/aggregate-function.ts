/**
 * A pure, mergeable aggregate in the shape of Flink's `AggregateFunction<IN, ACC, OUT>`.
 * Accumulators are plain values, so they can be checkpointed, and partial aggregates from several
 * processors (or 1-minute windows into 5-minute ones) combine with `merge`.
 */
export interface AggregateFunction<IN, ACC, OUT> {
  create(): ACC;
  /** Adds one input; mutates and returns `acc` (the hot path allocates nothing). */
  add(acc: ACC, input: IN): ACC;
  /** Combines two accumulators into a new one; neither argument is changed. */
  merge(a: ACC, b: ACC): ACC;
  result(acc: ACC): OUT;
}
