import { ConfigView } from './config-view';
import type { SettingDefinition, SettingValue } from './settings';

/** Every setting at its default; `standalone` picks the short standalone defaults where declared. */
export function defaultValues(catalogue: readonly SettingDefinition[], standalone = false): Map<string, SettingValue> {
  return new Map(catalogue.map((s) => [s.name, standalone && s.standaloneDefault !== undefined ? s.standaloneDefault : s.default]));
}

export function defaultConfigView(catalogue: readonly SettingDefinition[], overrides: Record<string, SettingValue> = {}, standalone = false): ConfigView {
  const values = defaultValues(catalogue, standalone);
  for (const [k, v] of Object.entries(overrides)) values.set(k, v);
  return new ConfigView(values);
}
