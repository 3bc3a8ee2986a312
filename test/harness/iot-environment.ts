import { IOT_ENVIRONMENT_VARIABLES } from '../../src/upstream/edgehub/environment';

/**
 * Replaces the SDK's variables in this process's environment with `vars` (the SDK reads process.env
 * itself) and returns a function restoring the previous values.
 */
export function useIotEnvironment(vars: Record<string, string>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const name of IOT_ENVIRONMENT_VARIABLES) {
    saved.set(name, process.env[name]);
    delete process.env[name];
  }
  for (const [name, value] of Object.entries(vars)) {
    if (!saved.has(name)) saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** A copy of `base` without the SDK's variables, plus `vars`: the environment for a child agent. */
export function childEnvironment(vars: Record<string, string>, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of IOT_ENVIRONMENT_VARIABLES) delete env[name];
  return { ...env, ...vars };
}
