/**
 * Template and analysis descriptions are Markdown: a safe subset is shown as formatted text.
 * markdown-it parses it (raw HTML off: `<script>` stays text; images off), and the tokens are
 * built into elements with the DOM builder, so no HTML string is ever parsed by the page. Only
 * known tags are made (anything else becomes a span), no attribute of the source is copied, and
 * links go only to http(s) and mailto addresses, opening in a new tab without access to this one.
 */
import MarkdownIt from 'markdown-it';
import { h } from './dom.js';

type Token = ReturnType<InstanceType<typeof MarkdownIt>['parse']>[number];

const md = new MarkdownIt('default', { html: false, linkify: false, typographer: false });
md.disable(['image']);

const TAGS = new Set(['p', 'em', 'strong', 's', 'ul', 'ol', 'li', 'blockquote', 'table', 'thead', 'tbody', 'tr', 'th', 'td']);
const SAFE_HREF = /^(https?:\/\/|mailto:)/i;

/** A tag made for an opening token: headings sit under the card's own (h4 to h6). */
function opening(t: Token): HTMLElement {
  if (t.type === 'link_open') {
    const href = String(t.attrGet('href') ?? '');
    return SAFE_HREF.test(href) ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }) : h('span', { class: 'md-link-dropped' });
  }
  const heading = /^h([1-6])$/.exec(t.tag);
  if (heading) return h(`h${Math.min(6, Number(heading[1]) + 3)}` as 'h4', { class: 'md-heading' });
  if (t.tag === 'ol') {
    const start = Number(t.attrGet('start') ?? '1');
    return h('ol', { start: Number.isInteger(start) && start !== 1 ? start : null });
  }
  return TAGS.has(t.tag) ? document.createElement(t.tag) : h('span');
}

function build(tokens: Token[], root: Node): void {
  const stack: Node[] = [root];
  for (const t of tokens) {
    const top = stack[stack.length - 1] ?? root;
    if (t.type === 'inline') {
      build(t.children ?? [], top);
    } else if (t.nesting === 1) {
      const el = opening(t);
      top.appendChild(el);
      stack.push(el);
    } else if (t.nesting === -1) {
      if (stack.length > 1) stack.pop();
    } else if (t.type === 'code_inline') {
      top.appendChild(h('code', null, t.content));
    } else if (t.type === 'fence' || t.type === 'code_block') {
      top.appendChild(h('pre', { class: 'md-code' }, h('code', null, t.content.replace(/\n$/, ''))));
    } else if (t.type === 'hardbreak') {
      top.appendChild(h('br'));
    } else if (t.type === 'softbreak') {
      top.appendChild(document.createTextNode('\n'));
    } else if (t.type === 'hr') {
      top.appendChild(h('hr'));
    } else if (t.content !== '') {
      top.appendChild(document.createTextNode(t.content)); // text, and anything else as its text
    }
  }
}

/** The Markdown `text` as elements, in a `<div class="markdown">`. */
export function renderMarkdown(text: string): HTMLDivElement {
  const el = h('div', { class: 'markdown' });
  build(md.parse(text, {}), el);
  return el;
}

/** The text a person reads of the Markdown (for a short summary of a long description). */
export function markdownText(text: string): string {
  return renderMarkdown(text).textContent?.replace(/\s+/g, ' ').trim() ?? '';
}
