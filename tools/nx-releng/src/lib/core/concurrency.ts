/** Runs fn over items with at most `limit` running at once; fails with the first error after all settle. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  const errors: unknown[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T);
      } catch (err) {
        errors.push(err);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (errors.length) throw errors[0];
  return results;
}

/**
 * Runs fn over the items of an async iterable with at most `limit` running at once. An item is pulled only when a
 * worker is free, so a stream (primary.xml's packages) is never read ahead or held whole; fails with the first
 * error (the iterable's or fn's) after all settle.
 */
export async function forEachLimit<T>(items: AsyncIterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.asyncIterator]();
  const errors: unknown[] = [];
  async function worker(): Promise<void> {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await it.next();
      } catch (err) {
        errors.push(err);
        return;
      }
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (err) {
        errors.push(err);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (errors.length) throw errors[0];
}
