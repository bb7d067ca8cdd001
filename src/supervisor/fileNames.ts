/** Names of uploaded files: sanitised to one safe path element, and matched against a template input's `accept` list. */
import path from 'node:path';

const MAX_NAME = 200;

/**
 * The last path element (of `/` or `\` paths) with every character but letters, digits, `.`,
 * `_` and `-` replaced by `_`, no `..`, starting with a letter or digit, at most 200
 * characters (the extension kept); `file` when nothing is left (or put before a name starting with `_` or `-`).
 */
export function sanitiseFileName(raw: string): string {
  const base = raw.split(/[\\/]/).pop() ?? '';
  let name = base.normalize('NFC').replace(/[^A-Za-z0-9._-]/g, '_').replace(/\.{2,}/g, '.').replace(/^\.+/, '');
  if (name !== '' && !/^[A-Za-z0-9]/.test(name)) name = `file${name}`;
  if (name.length > MAX_NAME) {
    const ext = path.extname(name).slice(0, 33);
    name = name.slice(0, MAX_NAME - ext.length) + ext;
  }
  return name === '' || name === '.' ? 'file' : name;
}

/** Whether a file fits an `accept` list of extensions (`.pdb`, case-insensitive) and media types (`chemical/x-pdb`, `text/*`); no list: any file. */
export function acceptsFile(accept: string[] | undefined, fileName: string, mediaType: string): boolean {
  if (!accept) return true;
  const ext = path.extname(fileName).toLowerCase();
  const type = mediaType.toLowerCase().split(';')[0]?.trim() ?? '';
  return accept.some((a) => {
    const x = a.toLowerCase();
    if (x.startsWith('.')) return x === ext;
    if (x.endsWith('/*')) return type.startsWith(x.slice(0, -1));
    return x === type;
  });
}
