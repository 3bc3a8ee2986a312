/**
 * Microsoft's Kusto language service (@kusto/language-service-next, a Bridge.NET build of
 * Kusto.Language) used as a checker: parses and type-checks queries and control commands against
 * declared tables and functions, as the ADX engine's front end does. Only the few members used here are
 * typed: the package's own declarations are global namespaces of 30,000 lines.
 */
import { readFileSync } from 'node:fs';

interface ReadOnlyList<T> {
  readonly Count: number;
  getItem(i: number): T;
}
interface KustoDiagnostic {
  readonly Severity: string;
  readonly Start: number;
  readonly Length: number;
  readonly Message: string;
  readonly Code: string;
}
interface KustoTypeSymbol {
  readonly Name: string;
}
interface KustoColumn {
  readonly Name: string;
  readonly Type: KustoTypeSymbol;
}
interface KustoTable {
  readonly Columns: ReadOnlyList<KustoColumn>;
}
interface KustoCode {
  GetDiagnostics(): ReadOnlyList<KustoDiagnostic>;
  readonly ResultType: (KustoTable & KustoTypeSymbol) | null;
}
interface KustoNamespace {
  Language: {
    Symbols: {
      TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
      FunctionSymbol: { $ctor16: new (name: string, parameterList: string, body: string, description: string | null) => unknown };
      DatabaseSymbol: { ctor: new (name: string, members: unknown[]) => unknown };
    };
    GlobalState: { Default: { WithDatabase(db: unknown): unknown } };
    KustoCode: { ParseAndAnalyze(text: string, globals: unknown): KustoCode };
  };
}

let kusto: KustoNamespace | undefined;

function load(): KustoNamespace {
  if (!kusto) {
    // The package defines the globals Bridge and Kusto when its two scripts are loaded in order.
    require('@kusto/language-service-next/bridge.js');
    require('@kusto/language-service-next');
    kusto = (globalThis as unknown as { Kusto: KustoNamespace }).Kusto;
  }
  return kusto;
}

export interface Diagnostic {
  readonly severity: string;
  readonly code: string;
  readonly message: string;
  /** Offset in the checked text. */
  readonly start: number;
  readonly length: number;
}

export interface DeclaredFunction {
  readonly name: string;
  /** `(a:string, b:timespan = 1d)` */
  readonly parameters: string;
  /** `{ … }` */
  readonly body: string;
}

export class KustoChecker {
  private readonly globals: unknown;

  constructor(tables: ReadonlyArray<{ name: string; schema: string }>, functions: readonly DeclaredFunction[] = [], database = 'EdgeGuard') {
    const K = load();
    const members = [
      ...tables.map((t) => new K.Language.Symbols.TableSymbol.$ctor7(t.name, t.schema, null)),
      ...functions.map((f) => new K.Language.Symbols.FunctionSymbol.$ctor16(f.name, f.parameters, f.body, null)),
    ];
    this.globals = K.Language.GlobalState.Default.WithDatabase(new K.Language.Symbols.DatabaseSymbol.ctor(database, members));
  }

  /** Parses and analyses a query or control command; returns every diagnostic. */
  check(text: string): { diagnostics: Diagnostic[]; resultColumns?: Array<{ name: string; type: string }> } {
    const code = load().Language.KustoCode.ParseAndAnalyze(text, this.globals);
    const list = code.GetDiagnostics();
    const diagnostics: Diagnostic[] = [];
    for (let i = 0; i < list.Count; i++) {
      const d = list.getItem(i);
      diagnostics.push({ severity: String(d.Severity), code: d.Code, message: d.Message, start: d.Start, length: d.Length });
    }
    const result = code.ResultType;
    let resultColumns: Array<{ name: string; type: string }> | undefined;
    if (result && result.Columns) {
      resultColumns = [];
      for (let i = 0; i < result.Columns.Count; i++) {
        const c = result.Columns.getItem(i);
        resultColumns.push({ name: c.Name, type: c.Type.Name });
      }
    }
    return { diagnostics, resultColumns };
  }
}

/** One control command of a .kql script, with the line it starts on (1-based). */
export interface ScriptCommand {
  readonly text: string;
  readonly line: number;
}

/** Splits a script into commands: each starts with a line beginning with "."; comment lines after a command's end are dropped. */
export function splitScript(text: string): ScriptCommand[] {
  const commands: ScriptCommand[] = [];
  let current: { lines: string[]; line: number } | undefined;
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.startsWith('.')) {
      if (current) commands.push({ text: trimCommand(current.lines), line: current.line });
      current = { lines: [line], line: i + 1 };
    } else if (current) {
      current.lines.push(line);
    }
  });
  if (current) commands.push({ text: trimCommand(current.lines), line: current.line });
  return commands;
}

function trimCommand(lines: string[]): string {
  const copy = [...lines];
  while (copy.length > 0 && (copy[copy.length - 1]!.trim() === '' || copy[copy.length - 1]!.startsWith('//'))) copy.pop();
  return copy.join('\n');
}

const FUNCTION = /^\.create-or-alter\s+function\s+(?:with\s*\((?:[^()']|'(?:[^'\\]|\\.)*')*\)\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)\s*(\{[\s\S]*\})\s*$/;

/** The function a `.create-or-alter function` command declares, or undefined for other commands. */
export function declaredFunction(command: string): DeclaredFunction | undefined {
  const m = FUNCTION.exec(command);
  return m ? { name: m[1]!, parameters: `(${m[2]!})`, body: m[3]! } : undefined;
}

export function readScript(file: string): ScriptCommand[] {
  return splitScript(readFileSync(file, 'utf8'));
}

/** `line:column` in the script for an offset inside a command. */
export function position(command: ScriptCommand, offset: number): string {
  const before = command.text.slice(0, offset).split('\n');
  return `${command.line + before.length - 1}:${before[before.length - 1]!.length + 1}`;
}
