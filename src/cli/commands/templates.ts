/**
 * `jobvisor templates`: a command group. Without a subcommand (or `templates list`) it lists the
 * templates the server offers, each with its parameters (type, default, units, limits), input
 * files, targets and sizes. `templates check DIR` checks a folder on this machine
 * (src/cli/templatesCheck.ts), without a server.
 */
import { Command, Option } from 'commander';
import type { PublicTemplate, ParameterSpec } from '../../shared/template.js';
import { act, clientCommand, type Context } from '../context.js';
import { CliError, EXIT } from '../exitCodes.js';
import { table } from '../output.js';

function limits(p: ParameterSpec): string {
  switch (p.type) {
    case 'number':
    case 'integer':
      return p.min !== undefined || p.max !== undefined ? `${p.min ?? '…'}..${p.max ?? '…'}` : '';
    case 'enum':
      return p.values.join('|');
    case 'string':
      return `up to ${p.maxLength} chars`;
    case 'boolean':
      return 'true|false';
  }
}

export function describeTemplate(t: PublicTemplate): string {
  const lines = [`${t.name}: ${t.title}`, `  targets: ${t.targets.join(', ') || 'none here'}; sizes: ${t.sizes.join(', ')}; time limit ${t.timeLimitSeconds} s`];
  const params = Object.entries(t.parameters as Record<string, ParameterSpec>);
  if (params.length > 0) {
    lines.push('  parameters (--set name=value):');
    const rows = params.map(([name, p]) => ['   ', name, p.type, `default ${JSON.stringify(p.default)}${p.type === 'number' || p.type === 'integer' ? (p.units ? ` ${p.units}` : '') : ''}`, limits(p), p.label]);
    lines.push(table(rows));
  }
  const inputs = Object.entries(t.inputs ?? {});
  if (inputs.length > 0) {
    lines.push('  input files (--input name=path):');
    lines.push(table(inputs.map(([name, i]) => ['   ', name, i.required ? 'required' : 'optional', i.accept?.join(' ') ?? 'any file', i.label])));
  }
  return lines.join('\n');
}

async function list(ctx: Context, name: string | undefined): Promise<void> {
  const answer = await ctx.client.json<{ templates: PublicTemplate[] }>('GET', '/api/templates');
  const templates = name === undefined ? answer.templates : answer.templates.filter((t) => t.name === name);
  if (name !== undefined && templates.length === 0) {
    throw new CliError('UNKNOWN_TEMPLATE', `no template ${name}; templates: ${answer.templates.map((t) => t.name).join(', ')}`, EXIT.refused);
  }
  ctx.out.result({ templates }, () => templates.map(describeTemplate).join('\n\n'));
}

function listCommand(): Command {
  return clientCommand('list', 'list the templates, with their parameters and input files')
    .argument('[name]', 'only this template')
    .action(act((ctx, name: string | undefined) => list(ctx, name)));
}

/** `templates check DIR`: checks a templates folder on this machine (no server needed); exit 0 clean, 1 with problems. */
function checkCommand(): Command {
  return new Command('check')
    .description('check a templates folder on this machine and print every problem with its file and field (exit 0: all good, 1: problems)')
    .argument('<dir>', 'the templates folder (one sub-folder per template)')
    .addOption(new Option('--json', 'machine output: the problems as JSON on stdout'))
    .action(async (dir: string, opts: { json?: boolean }) => {
      const { templatesCheck } = await import('../templatesCheck.js');
      process.exitCode = templatesCheck(dir, { json: opts.json === true });
    });
}

export function templatesCommand(): Command {
  return new Command('templates')
    .description('the templates the server offers (`jobvisor templates [list] [NAME]`), or check a folder (`jobvisor templates check DIR`)')
    .addCommand(listCommand(), { isDefault: true })
    .addCommand(checkCommand());
}
