/**
 * The file fields of the run form: one per template input, with its accept list, size limit
 * and required mark. Files are checked as they are chosen (type, size), then uploaded one by
 * one (`POST /api/uploads`, XMLHttpRequest for its upload progress) before the run request
 * refers to them by id; what the server refuses is shown at the file's field.
 */
import { ApiError } from './api.js';
import { h, setText } from './dom.js';
import { formatBytes } from './format.js';
import type { InputSpec, UploadView } from './types.js';

/** Whether a file fits an accept list (the server's check, src/supervisor/fileNames.ts). */
export function accepts(accept: string[] | undefined, file: { name: string; type: string }): boolean {
  if (!accept) return true;
  const dot = file.name.lastIndexOf('.');
  const ext = dot > 0 ? file.name.slice(dot).toLowerCase() : '';
  const type = (file.type || 'application/octet-stream').toLowerCase();
  return accept.some((a) => {
    const x = a.toLowerCase();
    if (x.startsWith('.')) return x === ext;
    if (x.endsWith('/*')) return type.startsWith(x.slice(0, -1));
    return x === type;
  });
}

/** Uploads one file with progress; resolves with the upload, rejects with an ApiError. */
export function uploadFile(file: File, onProgress: (sent: number, total: number) => void): Promise<UploadView> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/uploads');
    xhr.responseType = 'text';
    xhr.withCredentials = true;
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new ApiError(0, 'NETWORK', 'the upload did not reach the server; check your network and try again'));
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status === 201) return resolve(body as UploadView);
      const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      reject(new ApiError(xhr.status, e?.code ?? `HTTP_${xhr.status}`, e?.message ?? `the server answered ${xhr.status}`, e?.details));
    };
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}

class FileField {
  readonly el: HTMLDivElement;
  readonly input: HTMLInputElement;
  private readonly progress: HTMLProgressElement;
  private readonly status: HTMLParagraphElement;
  private readonly error: HTMLParagraphElement;

  constructor(
    readonly name: string,
    readonly spec: InputSpec,
    idPrefix: string,
  ) {
    const id = `${idPrefix}-${name}`;
    this.input = h('input', { id, name: `inputs.${name}`, type: 'file', 'aria-describedby': `${id}-hint ${id}-error`, 'data-input': name });
    if (spec.accept) this.input.accept = spec.accept.join(',');
    if (spec.required) this.input.required = true;
    this.progress = h('progress', { max: 1, value: 0, hidden: true, 'data-testid': `upload-progress-${name}`, 'aria-label': `Upload of ${spec.label}` });
    this.status = h('p', { class: 'hint', 'aria-live': 'polite', 'data-testid': `upload-status-${name}` });
    this.error = h('p', { class: 'field-error', id: `${id}-error`, 'aria-live': 'polite', 'data-field-error': `inputs.${name}` });
    const hint = [spec.description ?? '', spec.accept ? `accepts ${spec.accept.join(', ')}` : 'any file', spec.maxBytes ? `at most ${formatBytes(spec.maxBytes)}` : '', spec.required ? 'required' : 'optional'];
    this.el = h(
      'div',
      { class: 'field field-file', 'data-param': `inputs.${name}` },
      h('label', { for: id }, spec.label, spec.required ? h('span', { class: 'required', 'aria-hidden': 'true', title: 'required' }, ' *') : null),
      this.input,
      h('p', { class: 'hint', id: `${id}-hint` }, hint.filter((p) => p !== '').join(' · ')),
      this.progress,
      this.status,
      this.error,
    );
    this.input.addEventListener('change', () => this.check());
  }

  get file(): File | undefined {
    return this.input.files?.[0];
  }

  check(): string | undefined {
    const f = this.file;
    let error: string | undefined;
    if (!f) error = this.spec.required ? 'Choose a file.' : undefined;
    else if (!accepts(this.spec.accept, f)) error = `This input accepts ${this.spec.accept?.join(', ')}.`;
    else if (this.spec.maxBytes !== undefined && f.size > this.spec.maxBytes) error = `At most ${formatBytes(this.spec.maxBytes)} (this file has ${formatBytes(f.size)}).`;
    this.setError(error);
    return error;
  }

  setError(message: string | undefined): void {
    setText(this.error, message ?? '');
    this.el.classList.toggle('invalid', message !== undefined);
    if (message === undefined) this.input.removeAttribute('aria-invalid');
    else this.input.setAttribute('aria-invalid', 'true');
  }

  /** The upload was given up (another file was refused): say so. */
  dropped(): void {
    if (this.progress.hidden) return;
    this.progress.hidden = true;
    setText(this.status, this.file ? 'Not kept: choose Run again to upload it with the others.' : '');
  }

  async upload(): Promise<UploadView | undefined> {
    const f = this.file;
    if (!f) return undefined;
    this.progress.hidden = false;
    this.progress.value = 0;
    setText(this.status, `Uploading ${f.name}…`);
    try {
      const view = await uploadFile(f, (sent, total) => {
        this.progress.value = total > 0 ? sent / total : 0;
        setText(this.status, `Uploading ${f.name}: ${formatBytes(sent)} of ${formatBytes(total)}`);
      });
      this.progress.value = 1;
      setText(this.status, `Uploaded ${view.fileName} (${formatBytes(view.size)})`);
      return view;
    } catch (err) {
      this.progress.hidden = true;
      setText(this.status, '');
      this.setError(`Not uploaded: ${(err as Error).message}`);
      throw err;
    }
  }
}

export class InputFields {
  readonly el: HTMLFieldSetElement;
  private readonly fields: FileField[];

  constructor(inputs: Record<string, InputSpec>, idPrefix: string) {
    this.fields = Object.entries(inputs).map(([name, spec]) => new FileField(name, spec, idPrefix));
    this.el = h('fieldset', { class: 'inputs', hidden: this.fields.length === 0, 'data-testid': 'input-files' }, h('legend', null, 'Input files'), this.fields.map((f) => f.el));
  }

  /** The first field whose file is missing or not accepted (after marking every such field). */
  check(): HTMLInputElement | undefined {
    let first: HTMLInputElement | undefined;
    for (const f of this.fields) if (f.check()) first ??= f.input;
    return first;
  }

  /** Uploads the chosen files; input name → upload id. On a refusal, what was uploaded is removed again. */
  async upload(): Promise<Record<string, string>> {
    const ids: Record<string, string> = {};
    try {
      for (const f of this.fields) {
        const view = await f.upload();
        if (view) ids[f.name] = view.uploadId;
      }
    } catch (err) {
      await removeUploads(ids);
      this.dropped(ids);
      throw err;
    }
    return ids;
  }

  /** Marks the uploads of `ids` as given up (the run was not started). */
  dropped(ids: Record<string, string>): void {
    for (const f of this.fields) if (Object.hasOwn(ids, f.name)) f.dropped();
  }
}

/** Removes uploads a run did not take (best effort: they expire anyway). */
export async function removeUploads(ids: Record<string, string>): Promise<void> {
  await Promise.all(Object.values(ids).map((id) => fetch(`/api/uploads/${encodeURIComponent(id)}`, { method: 'DELETE', credentials: 'same-origin' }).catch(() => undefined)));
}
