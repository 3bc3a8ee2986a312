import { load, YAMLException } from 'js-yaml';

/**
 * Every YAML text EdgeGuard reads (configuration file, rule settings, catalogues) goes through here.
 * Aliases are refused: an alias bomb (`a: &a [x,x,…]`, `b: &b [*a,*a,…]`, …) expands a few hundred
 * bytes into gigabytes, and no EdgeGuard setting needs one. Nesting is bounded too.
 */
export const YAML_MAX_DEPTH = 64;

export class YamlError extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = 'YamlError';
  }
}

/** Parses YAML (or JSON) text; throws YamlError with the 1-based place and reason, never quoting the text. */
export function loadYaml(text: string): unknown {
  try {
    return load(text, { maxAliases: 0, maxDepth: YAML_MAX_DEPTH });
  } catch (error) {
    if (error instanceof YAMLException) {
      const line = error.mark ? error.mark.line + 1 : undefined;
      const column = error.mark ? error.mark.column + 1 : undefined;
      const aliases = /maxAliases/.test(error.reason ?? '');
      const reason = aliases ? 'YAML aliases (*name) are not accepted' : (error.reason ?? 'cannot be parsed');
      throw new YamlError(reason, line, column);
    }
    throw new YamlError('cannot be parsed');
  }
}
