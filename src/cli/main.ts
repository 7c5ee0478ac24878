import { RUN_HELP } from './flags.ts';
import { MOCK_HELP, mockCommand } from './mock.ts';
import { EXIT, runCommand } from './run.ts';
import { VERSION } from './version.ts';

const HELP = `loadmesh ${VERSION}: distributed stress testing for LLM inference services and any HTTP service

Usage: loadmesh <command> [flags]

Commands:
  run [TASK.json]   run a stress test on this machine and print its summary
  mock-llm          serve a mock OpenAI-compatible streaming API for demos and tests
  coordinator       run a cluster's coordinator on NATS
  agent             run load-generating agents that join a coordinator over NATS
  ls, desc, stop    list, describe or stop a cluster's tasks
  help [COMMAND]    show help
  version           print the version

Run "loadmesh help run" for the flags of run.`;

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
    case 'version':
    case '--version':
      process.stdout.write(`${VERSION}\n`);
      return EXIT.ok;
    case 'help':
    case '--help':
    case '-h':
    case undefined:
      process.stdout.write(
        `${rest[0] === 'run' ? RUN_HELP : rest[0] === 'mock-llm' ? MOCK_HELP : HELP}\n`,
      );
      return EXIT.ok;
    default:
      process.stderr.write(
        `error: unknown command ${JSON.stringify(command)}. Run loadmesh help for the commands.\n`,
      );
      return EXIT.cannotRun;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if ((error as { code?: unknown }).code === 'ERR_NATS_CONNECT') {
    process.stderr.write(`error: ${(error as Error).message}\n`);
    process.exitCode = EXIT.cannotRun;
  } else {
    process.stderr.write(`internal error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT.internal;
  }
}
