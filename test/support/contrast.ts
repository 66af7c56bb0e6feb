import type { Page } from 'playwright-core';

/** A piece of text on the page whose contrast with its background is below WCAG AA. */
export interface LowContrast {
  text: string;
  where: string;
  ratio: number;
  needed: number;
  color: string;
  background: string;
}

/**
 * Every visible piece of text on the page whose contrast ratio is below WCAG AA (4.5:1, or 3:1
 * for large text), from the browser's computed styles. The background is found by compositing the
 * background colours of the element and its ancestors on a 1-pixel canvas, which also resolves
 * `color-mix()`, transparency and any other CSS colour syntax. Text of disabled controls (exempt
 * in WCAG) and of elements under `opacity` is left out; background images are not considered (the
 * page has none behind text).
 */
export function lowContrast(page: Page): Promise<LowContrast[]> {
  return page.evaluate(async () => {
    // Measure the page at rest: a row fading in is not what a person reads. (Endless animations,
    // such as a running job's stripes, never finish; they do not touch text colour.)
    await Promise.all(
      document
        .getAnimations()
        .filter((animation) => animation.effect?.getTiming().iterations !== Infinity)
        .map((animation) => animation.finished.catch(() => undefined)),
    );
    const canvas = document.createElement('canvas');
    canvas.width = 1;
    canvas.height = 1;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    const pixel = (): [number, number, number] => {
      const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
      return [r!, g!, b!];
    };
    const luminance = ([r, g, b]: [number, number, number]) => {
      const channel = (c: number) => {
        const s = c / 255;
        return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
    };
    const found: LowContrast[] = [];
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('body *'))) {
      const own = Array.from(el.childNodes)
        .filter((node) => node.nodeType === Node.TEXT_NODE)
        .map((node) => node.textContent ?? '')
        .join('')
        .trim();
      if (!own || el.closest('.sr-only, [hidden]') || el.getClientRects().length === 0) continue;
      if ((el as HTMLButtonElement).disabled) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || style.display === 'none') continue;
      const chain: HTMLElement[] = [];
      for (let node: HTMLElement | null = el; node; node = node.parentElement) chain.unshift(node);
      if (chain.some((node) => Number(getComputedStyle(node).opacity) < 1)) continue;
      // An opaque base (what the browser paints under the root), then every layer from the root down.
      ctx.globalCompositeOperation = 'source-over';
      ctx.fillStyle = matchMedia('(prefers-color-scheme: dark)').matches ? '#000' : '#fff';
      ctx.fillRect(0, 0, 1, 1);
      for (const node of chain) {
        ctx.fillStyle = getComputedStyle(node).backgroundColor;
        ctx.fillRect(0, 0, 1, 1);
      }
      const background = pixel();
      ctx.fillStyle = style.color;
      ctx.fillRect(0, 0, 1, 1);
      const color = pixel();
      const [light, dark] = [luminance(color), luminance(background)].sort((a, b) => b - a) as [
        number,
        number,
      ];
      const ratio = (light + 0.05) / (dark + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const needed = large ? 3 : 4.5;
      if (ratio < needed) {
        found.push({
          text: own.slice(0, 40),
          where: `${el.tagName.toLowerCase()}.${el.className}`,
          ratio: Math.round(ratio * 100) / 100,
          needed,
          color: `rgb(${color.join(' ')})`,
          background: `rgb(${background.join(' ')})`,
        });
      }
    }
    return found;
  });
}
