/** A tiny element builder; the client has few views and needs no framework. */
type Attrs = Record<string, string | boolean | number | undefined | ((event: Event) => void)>;
export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.replace(/^on/, '').toLowerCase(), value);
    else if (value === true) element.setAttribute(key, '');
    else element.setAttribute(key, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

export function mount(root: Element, ...children: Child[]): void {
  root.replaceChildren();
  append(root, ...children);
}

/** A real <button type="button">; `label` names it for screen readers when its text is an icon. */
export function button(text: string, onClick: (event: Event) => void, attrs: Attrs = {}): HTMLButtonElement {
  return h('button', { type: 'button', ...attrs, onclick: onClick }, text);
}

/**
 * Runs an action from a button: the button is disabled while it runs, and
 * a failure is written to `status` (a role=alert element) instead of thrown.
 */
export async function runAction(control: HTMLButtonElement | null, status: HTMLElement | null, action: () => Promise<unknown>, describe: (error: unknown) => string): Promise<boolean> {
  if (control) control.disabled = true;
  if (status) status.textContent = '';
  try {
    await action();
    return true;
  } catch (error) {
    if (status) status.textContent = describe(error);
    return false;
  } finally {
    if (control) control.disabled = false;
  }
}
