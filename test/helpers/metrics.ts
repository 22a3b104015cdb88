import type { Metrics } from '../../src/pipeline/metrics.js';

/**
 * regauth_authenticator_duration_seconds_count{backend, result} as /metrics shows it: how many
 * of the backend's successes (`authenticated`) or errors (`error`) were observed; 0 before any.
 */
export async function authnObserved(
  metrics: Metrics,
  backend: string,
  result: 'authenticated' | 'error',
): Promise<number> {
  const { values } = await metrics.authnDuration.get();
  return (
    values.find(
      (v) =>
        v.metricName === 'regauth_authenticator_duration_seconds_count' &&
        v.labels['backend'] === backend &&
        v.labels['result'] === result,
    )?.value ?? 0
  );
}
