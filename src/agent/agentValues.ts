/**
 * What only the agent knows, filled into the ops it receives: its Node binary (AGENT_NODE) and
 * its own folder (AGENT_ROOT), in the fields that may hold them (argv, preprocess, postprocess, runDir, batch.script) and
 * nowhere else. Everything else of an op, parameters included, is used as the supervisor sent it.
 */
import { JobvisorError } from '../shared/errors.js';
import { AGENT_NODE, AGENT_ROOT, type Op } from '../shared/protocol.js';

/** A folder that batch scripts may hold unquoted (cluster agents put it into scheduler directive lines). */
const SAFE_ROOT = /^[A-Za-z0-9_./-]+$/;

export interface AgentValues {
  node: string;
  /** The agent's own folder; only read when an op names it. */
  root(): string;
}

export const ownValues: AgentValues = { node: process.execPath, root: () => process.cwd() };

function filler(values: AgentValues): (text: string) => string {
  return (text) => {
    let out = text.replaceAll(AGENT_NODE, values.node);
    if (out.includes(AGENT_ROOT)) {
      const root = values.root();
      if (!SAFE_ROOT.test(root)) throw new JobvisorError('AGENT_PROTOCOL', `the agent's folder ${root} has characters batch scripts cannot hold`);
      out = out.replaceAll(AGENT_ROOT, root);
    }
    if (out.includes('\0')) throw new JobvisorError('AGENT_PROTOCOL', 'the op holds a marker this agent does not know');
    return out;
  };
}

export function fillAgentValues(op: Op, values: AgentValues = ownValues): Op {
  const fill = filler(values);
  switch (op.kind) {
    case 'run':
      return {
        ...op,
        runDir: fill(op.runDir),
        argv: op.argv.map(fill),
        ...(op.preprocess ? { preprocess: op.preprocess.map(fill) } : {}),
        ...(op.postprocess ? { postprocess: op.postprocess.map(fill) } : {}),
        ...(op.batch ? { batch: { ...op.batch, script: fill(op.batch.script) } } : {}),
      };
    case 'analysis':
      return { ...op, runDir: fill(op.runDir), argv: op.argv.map(fill) };
    case 'io':
      return { ...op, runDir: fill(op.runDir), ...(op.archive !== undefined ? { archive: fill(op.archive) } : {}) };
    case 'attach':
      return { ...op, runDir: fill(op.runDir) };
    case 'cancel':
    case 'runStatus':
    case 'agentInfo':
    case 'shutdown':
    case 'templateFiles':
      return op;
    default: {
      const never: never = op;
      throw new JobvisorError('AGENT_PROTOCOL', `unknown op ${JSON.stringify(never)}`);
    }
  }
}
