/** Entry of the bundled agent (dist/jobvisor-agent.mjs): one file that drivers copy or mount where the agent runs. */
import { runAgentProcess } from './main.js';

runAgentProcess().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`jobvisor agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
