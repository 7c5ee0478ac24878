import { RUN_HELP } from './flags.ts';
import { MOCK_HELP, mockCommand } from './mock.ts';
import { EXIT, runCommand } from './run.ts';
import { UsageError } from './overrides.ts';
import { VERSION } from './version.ts';

const HELP = `loadmesh ${VERSION}: distributed stress testing for LLM inference services and any HTTP service

Usage: loadmesh <command> [flags]

Commands:
  run [TASK.json]   run a stress test on this machine and print its summary
  mock-llm          serve a mock OpenAI-compatible streaming API for demos and tests
  coordinator       run a cluster's coordinator on NATS
  agent             run load-generating agents that join a coordinator over NATS
  ls, desc, stop    list, describe or stop a cluster's tasks
  update NAME       change the concurrency or rate of a cluster's running task
  help [COMMAND]    show help
  version           print the version

Run "loadmesh help COMMAND" for the flags of a command.`;

/** Commands that print their own help for --help. */
const HELPED_COMMANDS = ['agent', 'coordinator', 'ls', 'desc', 'stop', 'update'];

/** Dispatches a command line to its command and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return runCommand(rest);
    case 'mock-llm':
      return mockCommand(rest);
    case 'agent':
      return (await import('./cluster.ts')).agentCommand(rest);
    case 'coordinator':
      return (await import('./cluster.ts')).coordinatorCommand(rest);
    case 'ls':
      return (await import('./remote.ts')).ctlCommand('list', rest);
    case 'desc':
      return (await import('./remote.ts')).ctlCommand('describe', rest);
    case 'stop':
      return (await import('./remote.ts')).ctlCommand('stop', rest);
    case 'update':
      return (await import('./remote.ts')).updateCommand(rest);
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    case 'help':
      if (rest[0] === undefined) break;
      if (rest[0] === 'run') process.stdout.write(`${RUN_HELP}\n`);
      else if (rest[0] === 'mock-llm') process.stdout.write(`${MOCK_HELP}\n`);
      else if (HELPED_COMMANDS.includes(rest[0])) return main([rest[0], '--help']);
      else {
        process.stderr.write(
          `error: unknown command ${JSON.stringify(rest[0])}. Run loadmesh help for the commands.\n`,
        );
        return EXIT.cannotRun;
      }
      return EXIT.ok;
    case '--help':
    case '-h':
    case undefined:
      break;
    default:
      process.stderr.write(
        `error: unknown command ${JSON.stringify(command)}. Run loadmesh help for the commands.\n`,
      );
      return EXIT.cannotRun;
  }
  process.stdout.write(`${HELP}\n`);
  return EXIT.ok;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if ((error as { code?: unknown }).code === 'ERR_NATS_CONNECT') {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    // A connection attempt to a server that is not NATS can leave its socket open, which would
    // keep the process alive after the error.
    process.exit(EXIT.cannotRun);
  } else if (
    error instanceof UsageError ||
    String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
  ) {
    // A bad flag of any command: the message names it, and the command's help lists the flags.
    const command = process.argv[2] ?? '';
    const hint = error instanceof UsageError ? '' : `. Fix: run loadmesh help ${command}`;
    process.stderr.write(`error: ${(error as Error).message}${hint}\n`);
    process.exitCode = EXIT.cannotRun;
  } else {
    process.stderr.write(`internal error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT.internal;
  }
}
