/**
 * A total order on strings by UTF-16 code units, for sorts that only need to be deterministic (snapshots,
 * kernel filter tables). Unlike localeCompare it does not load ICU's collation data (~3 MB RSS in the
 * agent, README "Footprint"); output that people read (findings) keeps localeCompare's order.
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
