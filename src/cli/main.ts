#!/usr/bin/env node
// Keep this entry light: `edgeguard scan` must print within a few hundred milliseconds, so the
// agent (winston, Azure SDK, dockerode) is only loaded by `edgeguard run`.
import { escapeControl } from '../core/text-escape';
import { runScan, toolVersion, type CliIO } from './scan';

const HELP = `Usage: edgeguard <command> [options]

Commands:
  scan <file|glob>...   Check IoT Edge deployment manifests for risky settings (for CI)
  run                   Start the EdgeGuard security agent (as an IoT Edge module or standalone)
  detect <file>...      Run the detection rules over recorded security messages (JSON lines, Event Hubs
                        Capture or IoT Hub storage Avro)
  export-messages FILE… Print the security messages in an IoT Hub route's export (Event Hubs
                        Capture Avro, IoT Hub storage Avro or JSON lines), one per line

Options:
  -h, --help            Show this help; "edgeguard <command> --help" for a command's options
  --version             Print the version

Documentation: docs/manifest-analysis.md (scan), README.md (agent).
`;

function processIO(): CliIO {
  return {
    cwd: process.cwd(),
    stdout: (text) => process.stdout.write(text),
    stdoutDrained: () => new Promise((resolve) => process.stdout.once('drain', resolve)),
    stderr: (text) => process.stderr.write(text),
    stdoutIsTTY: process.stdout.isTTY === true,
    env: process.env,
  };
}

/** Writes to standard output and waits until the stream has taken it (back-pressure on pipes). */
function writeStdout(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

interface AgentModule {
  runAgent(): Promise<void>;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'scan':
      return runScan(rest, processIO());
    case 'detect': {
      const { runDetect } = require('./detect') as typeof import('./detect');
      return runDetect(rest, processIO(), toolVersion());
    }
    case 'export-messages': {
      // Loaded lazily: avsc is only needed here.
      const cmd = require('./export-messages') as typeof import('./export-messages');
      return cmd.runExportMessages(rest, { ...processIO(), write: writeStdout });
    }
    case 'run': {
      if (rest.includes('--help') || rest.includes('-h')) {
        process.stdout.write(
          'Usage: edgeguard run [--config <file>]\n\nStarts the agent. As an IoT Edge module its configuration comes from the module twin; standalone\n(no IoT Edge variables) from --config <file>, EDGEGUARD_CONFIG or ./edgeguard.yaml, and messages go to stdout.\nSee docs/configuration.md.\n',
        );
        return 0;
      }
      // Loaded lazily: the agent's dependencies are heavy and `scan` must not pay for them.
      const agent = require('../main') as AgentModule;
      await agent.runAgent();
      return 0;
    }
    case '--version':
    case '-V':
      process.stdout.write(`${toolVersion()}\n`);
      return 0;
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(HELP);
      return 0;
    case undefined:
      process.stderr.write(HELP);
      return 2;
    default:
      process.stderr.write(`edgeguard: unknown command "${escapeControl(command)}"\n\n${HELP}`);
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // Last resort: one line, no stack, no input echoed.
      process.stderr.write(`edgeguard: ${escapeControl((error instanceof Error ? error.message : String(error)).split('\n')[0]!.slice(0, 500))}\n`);
      process.exitCode = 2;
    },
  );
}
