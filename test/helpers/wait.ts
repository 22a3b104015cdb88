/**
 * Waits until `done()` holds or `ms` have passed, and says which (the test's own expect asserts
 * it): true when it holds.
 */
export async function until(done: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end && !done();) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return done();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
