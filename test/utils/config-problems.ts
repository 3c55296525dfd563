/** What loadConfig says about an environment: shared by the configuration specs. */
import { ConfigError, loadConfig } from '../../src/config/app-config.js';

export const SECRET = 'x'.repeat(32);

/** The problems loadConfig reports for `env`, or fails the test when it accepts it. */
export function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    // The message lists every problem too, one per line (what start-up prints).
    expect((error as ConfigError).message.split('\n')).toHaveLength(problems.length + 1);
    return problems;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** Exactly one problem, and it names the variable. */
export function oneProblem(env: Record<string, string | undefined>, variable: string): string {
  const problems = problemsOf(env);
  expect(problems).toHaveLength(1);
  expect(problems[0]).toContain(variable);
  expect(problems[0]).not.toContain('\n');
  return problems[0];
}
