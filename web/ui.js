// Small DOM helpers shared by the pages: building elements, messages in live regions.

/** The element of this id (the pages' markup is fixed, so a missing one is a bug). */
export function $(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`no element #${id}`);
  return element;
}

/** A new element with attributes and children (strings become text, never HTML). */
export function el(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'text') element.textContent = value;
    else if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * Shows a message in a live region (the markup gives each one `role="status"` or
 * `role="alert"`), so screen readers announce it; `kind` is `ok`, `error` or `info`.
 */
export function say(region, text, kind = 'info') {
  region.classList.remove('ok', 'error');
  if (kind !== 'info') region.classList.add(kind);
  // Clearing first makes a repeated message announced again.
  region.textContent = '';
  window.setTimeout(() => {
    region.textContent = text;
  }, 30);
}

/** Runs `work` with the form's submit buttons disabled, so one click sends one request. */
export async function busy(form, work) {
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => {
    b.disabled = true;
  });
  try {
    return await work();
  } finally {
    buttons.forEach((b) => {
      b.disabled = false;
    });
  }
}

/** Fills a list element with one item per rule. */
export function showRules(list, rules) {
  list.replaceChildren(...rules.map((rule) => el('li', { text: rule })));
}

/** Shows one section of several and moves keyboard focus to its heading. */
export function showOnly(sections, visible, focus = true) {
  for (const section of sections) section.hidden = section !== visible;
  if (focus && visible) {
    const heading = visible.querySelector('h2, h1');
    if (heading) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
  }
}
