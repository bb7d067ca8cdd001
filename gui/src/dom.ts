/**
 * A tiny DOM builder. Text only ever becomes Text nodes (never HTML), so whatever a user, a
 * job or the server wrote is shown as it is and cannot become markup. There is no way here to
 * set innerHTML or an inline style attribute (the page's Content-Security-Policy forbids inline
 * styles anyway; set `element.style.*` from code where a computed size is needed).
 */

export type Child = Node | string | number | null | undefined | false | Child[];

type Listener = (event: Event) => void;
type AttrValue = string | number | boolean | null | undefined;

/** Attributes: `class`, `for`, `data-*`, `aria-*`, booleans (true = present), `on<event>` listeners. */
export type Attrs = Record<string, AttrValue | Listener>;

/** Properties set as properties rather than attributes (their live value, not the default). */
const PROPERTIES = new Set(['value', 'checked', 'selected', 'indeterminate']);
const FORBIDDEN = new Set(['style', 'innerhtml', 'outerhtml', 'srcdoc']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) setAttrs(el, attrs);
  append(el, ...children);
  return el;
}

export function setAttrs(el: HTMLElement, attrs: Attrs): void {
  for (const [name, value] of Object.entries(attrs)) {
    const lower = name.toLowerCase();
    if (FORBIDDEN.has(lower)) throw new Error(`h(): attribute ${name} is not allowed`);
    if (typeof value === 'function') {
      if (!lower.startsWith('on')) throw new Error(`h(): a function for ${name}`);
      el.addEventListener(lower.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      (el as unknown as Record<string, unknown>)[name] = value;
    } else if (value === true) {
      el.setAttribute(name, '');
    } else if (value === false || value === null || value === undefined) {
      el.removeAttribute(name);
    } else {
      if (lower.startsWith('on')) throw new Error(`h(): ${name} must be a function`);
      if ((lower === 'href' || lower === 'src' || lower === 'action') && /^\s*javascript:/i.test(String(value))) {
        throw new Error(`h(): a javascript: URL in ${name}`);
      }
      el.setAttribute(name, String(value));
    }
  }
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, ...child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
}

/** Removes every child of `el`, then appends `children`. */
export function replaceChildren(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, ...children);
}

/** Sets an element's text (as text). Does nothing when it is already that, to spare re-layout. */
export function setText(el: Node, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

let idCounter = 0;
/** A page-unique id for label/for and aria-describedby pairs. */
export function uid(prefix = 'id'): string {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}
