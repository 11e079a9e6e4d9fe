// The report's chart renderer (bench/lib/svg.ts): well-formed, escaped SVG whose bars and points are
// where the values put them, whatever the values (none, zeros, huge ones), with no two labels colliding.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BarChart, LineChart } from '../../bench/lib/report-types.js';
import {
  escapeXml, estimateTextWidth, formatCompact, formatTicks, formatValue, niceTicks, PALETTE, REFERENCE_COLOUR, renderBarChart, renderChart,
  renderLineChart, wrapText,
} from '../../bench/lib/svg.js';

// ---- a small XML well-formedness check and element reader ----

const NAME = '[A-Za-z_][\\w.:-]*';
const ATTRIBUTE = new RegExp(`\\s+(${NAME})="([^"<]*)"`, 'g');
const ENTITY_OK = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

/** Throws unless `xml` is one well-formed element: balanced tags, quoted attributes, no stray < or &. */
function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  let roots = 0;
  const tag = new RegExp(`<(/?)(${NAME})((?:\\s+${NAME}="[^"<]*")*)\\s*(/?)>`, 'y');
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const textPart = xml.slice(i, lt === -1 ? xml.length : lt);
    if (textPart.replace(ENTITY_OK, '').includes('&')) throw new Error(`a bare & in text near offset ${i}: ${JSON.stringify(textPart.slice(0, 60))}`);
    if (stack.length === 0 && textPart.trim() !== '') throw new Error(`text outside the root element: ${JSON.stringify(textPart.slice(0, 60))}`);
    if (lt === -1) break;
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed tag at offset ${lt}: ${JSON.stringify(xml.slice(lt, lt + 80))}`);
    const [, closing, name, attrs, selfClosing] = m;
    if (attrs!.replace(ENTITY_OK, '').includes('&')) throw new Error(`a bare & in the attributes of <${name}>`);
    const attrNames = [...attrs!.matchAll(ATTRIBUTE)].map((a) => a[1]);
    if (new Set(attrNames).size !== attrNames.length) throw new Error(`<${name}> repeats an attribute`);
    if (closing) {
      if (stack.pop() !== name) throw new Error(`</${name}> closes the wrong element`);
    } else if (!selfClosing) {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) roots++;
    i = lt + m[0].length;
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
}

interface Element {
  name: string;
  attrs: Record<string, string>;
  text?: string;
}

function unescape(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

function elements(svg: string, name: string): Element[] {
  const out: Element[] = [];
  const re = new RegExp(`<${name}((?:\\s+${NAME}="[^"]*")*)\\s*(?:/>|>([^<]*))`, 'g');
  for (const m of svg.matchAll(re)) {
    const attrs: Record<string, string> = {};
    for (const a of m[1]!.matchAll(ATTRIBUTE)) attrs[a[1]!] = unescape(a[2]!);
    out.push({ name, attrs, ...(m[2] !== undefined ? { text: unescape(m[2]) } : {}) });
  }
  return out;
}

const num = (e: Element, k: string) => Number(e.attrs[k]);
const bars = (svg: string) => elements(svg, 'rect').filter((r) => r.attrs.class === 'bar');

/** The box a text element covers, estimated the way the renderer estimates it. */
function textBox(t: Element): { x0: number; x1: number; y0: number; y1: number; text: string } {
  const size = num(t, 'font-size');
  const width = estimateTextWidth(t.text ?? '', size);
  const anchor = t.attrs['text-anchor'] ?? 'start';
  const x = num(t, 'x');
  const x0 = anchor === 'end' ? x - width : anchor === 'middle' ? x - width / 2 : x;
  const y = num(t, 'y');
  return { x0, x1: x0 + width, y0: y - size * 0.8, y1: y + size * 0.2, text: t.text ?? '' };
}

function assertNoTextOverlaps(svg: string): void {
  const boxes = elements(svg, 'text').filter((t) => !t.attrs.transform).map(textBox);
  const width = Number(/<svg[^>]* width="([\d.]+)"/.exec(svg)![1]);
  for (const b of boxes) assert.ok(b.x0 >= 0 && b.x1 <= width + 0.5, `${JSON.stringify(b.text)} runs outside the chart (${b.x0}..${b.x1} of ${width})`);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      const overlap = a.x0 < b.x1 - 0.5 && b.x0 < a.x1 - 0.5 && a.y0 < b.y1 - 0.5 && b.y0 < a.y1 - 0.5;
      assert.ok(!overlap, `${JSON.stringify(a.text)} overlaps ${JSON.stringify(b.text)}`);
    }
  }
}

function barChart(groups: BarChart['groups'], extra: Partial<BarChart> = {}): BarChart {
  return { kind: 'bar', id: 'test', title: 'A test chart', unit: 'ms', better: 'lower', groups, ...extra };
}

// ---- tests ----

test('the checks themselves reject malformed XML and colliding text', () => {
  assertWellFormed('<svg a="1"><g><text>a &amp; b</text></g><rect/></svg>');
  for (const bad of ['<svg><g></svg>', '<svg>a & b</svg>', '<svg a=1/>', '<svg/><svg/>', '<svg><text>x</g></svg>', '<svg a="1" a="2"/>', '<svg>x<</svg>']) {
    assert.throws(() => assertWellFormed(bad), Error, bad);
  }
  const overlapping = '<svg width="100"><text x="1" y="10" font-size="10">abc</text><text x="5" y="12" font-size="10">def</text></svg>';
  assert.throws(() => assertNoTextOverlaps(overlapping), /overlaps/);
  assert.throws(() => assertNoTextOverlaps('<svg width="100"><text x="90" y="10" font-size="10">abcdef</text></svg>'), /outside/);
});

test('a bar chart is well-formed SVG with its title, which way is better, the unit and a legend', () => {
  const svg = renderBarChart(barChart([
    { label: 'link dump', bars: [{ label: 'sluice', value: 3 }, { label: 'node-netlink', value: 1, reference: true }] },
    { label: 'route dump', bars: [{ label: 'sluice', value: 9 }, { label: 'node-netlink', value: 1, reference: true }] },
  ], { better: 'higher', unit: 'msg/s', note: 'medians' }));
  assertWellFormed(svg);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  const texts = elements(svg, 'text').map((t) => t.text);
  for (const expected of ['A test chart', 'Higher is better', 'msg/s', 'sluice', 'node-netlink (reference)', 'link dump', 'route dump', 'medians']) {
    assert.ok(texts.includes(expected), `missing text ${expected}: ${texts.join(' | ')}`);
  }
  assert.ok(!/NaN|Infinity|undefined/.test(svg));
  // Colours: the palette by label, grey for the reference; one dashed reference line per group.
  const fills = new Map(bars(svg).map((b) => [b.attrs['data-label'], b.attrs.fill]));
  assert.equal(fills.get('sluice'), PALETTE[0]);
  assert.equal(fills.get('node-netlink'), REFERENCE_COLOUR);
  assert.equal(elements(svg, 'line').filter((l) => l.attrs.class === 'reference').length, 2);
  assert.equal(renderChart(barChart([{ label: 'g', bars: [{ label: 'b', value: 1 }] }])), renderBarChart(barChart([{ label: 'g', bars: [{ label: 'b', value: 1 }] }])));
});

test('bar lengths are proportional to the values, and start at zero', () => {
  const svg = renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: 10 }, { label: 'b', value: 20 }, { label: 'c', value: 40 }, { label: 'd', value: 33.3 }] }]));
  const rects = bars(svg);
  assert.equal(rects.length, 4);
  const x0 = num(rects[0]!, 'x');
  for (const r of rects) assert.equal(num(r, 'x'), x0);
  const unit = num(rects[0]!, 'width') / 10;
  for (const r of rects) assert.ok(Math.abs(num(r, 'width') - unit * num(r, 'data-value')) < 0.05, `${r.attrs['data-label']}: width ${r.attrs.width}`);
  // The longest bar's end lies on the last tick or before it, never past the axis.
  const ticks = elements(svg, 'text').filter((t) => t.attrs.class === 'tick');
  assert.ok(num(rects[2]!, 'x') + num(rects[2]!, 'width') <= num(ticks.at(-1)!, 'x') + 0.01);
});

test('whiskers span low..high on the bars\' scale', () => {
  const svg = renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: 50, low: 40, high: 80 }, { label: 'b', value: 20 }] }]));
  assertWellFormed(svg);
  const bar = bars(svg)[0]!;
  const perUnit = num(bar, 'width') / 50;
  const whiskers = [...svg.matchAll(/<g class="whisker" data-low="([\d.]+)" data-high="([\d.]+)">(.*?)<\/g>/g)];
  assert.equal(whiskers.length, 1, 'only the bar with a spread has a whisker');
  assert.deepEqual([Number(whiskers[0]![1]), Number(whiskers[0]![2])], [40, 80]);
  const [span] = elements(whiskers[0]![3]!, 'line');
  assert.ok(Math.abs(num(span!, 'x1') - (num(bar, 'x') + 40 * perUnit)) < 0.05);
  assert.ok(Math.abs(num(span!, 'x2') - (num(bar, 'x') + 80 * perUnit)) < 0.05);
  // The value label sits after the whisker's end, not on it.
  const label = elements(svg, 'text').find((t) => t.attrs.class === 'value' && t.text === '50 ms')!;
  assert.ok(num(label, 'x') > num(span!, 'x2'));
  // Only a high, or only a low: the whisker runs from the value.
  const oneSided = renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: 5, high: 7 }] }]));
  assert.match(oneSided, /data-low="5" data-high="7"/);
});

test('text is XML-escaped everywhere, and characters XML cannot carry are dropped', () => {
  const evil = '<script>alert("x")</script> & \'q\' \u0001';
  const svg = renderBarChart(barChart([{ label: evil, bars: [{ label: evil, value: 1, low: 0.5, high: 2 }] }], { title: evil, unit: '<u>', note: evil }));
  assertWellFormed(svg);
  assert.ok(!svg.includes('<script'));
  assert.ok(!svg.includes('\u0001'));
  assert.ok(svg.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &apos;q&apos;'));
  assert.equal(escapeXml('a<b>&"\'\u0000c'), 'a&lt;b&gt;&amp;&quot;&apos;c');
  const line = renderLineChart({ kind: 'line', id: 'l', title: 'a & b', xLabel: '<x>', unit: '"u"', better: 'lower', series: [{ label: 'p&q', points: [[1, 2]] }] });
  assertWellFormed(line);
  assert.ok(line.includes('p&amp;q') && line.includes('&lt;x&gt;'));
});

test('no data, zeros and huge values still draw a valid chart', () => {
  for (const svg of [
    renderBarChart(barChart([])),
    renderBarChart(barChart([{ label: 'empty group', bars: [] }])),
    renderLineChart({ kind: 'line', id: 'l', title: 't', xLabel: 'x', unit: 'ms', better: 'lower', series: [] }),
    renderLineChart({ kind: 'line', id: 'l', title: 't', xLabel: 'x', unit: 'ms', better: 'lower', series: [{ label: 's', points: [] }] }),
  ]) {
    assertWellFormed(svg);
    assert.ok(svg.includes('no data'));
  }

  const zeros = renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: 0 }, { label: 'b', value: 0, low: 0, high: 0 }] }]));
  assertWellFormed(zeros);
  assert.ok(!/NaN|Infinity/.test(zeros));
  for (const r of bars(zeros)) assert.equal(num(r, 'width'), 0);

  const huge = renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: 2e15 }, { label: 'b', value: 5e14, low: 1e14, high: 9e14 }] }], { unit: 'B' }));
  assertWellFormed(huge);
  assert.ok(!/NaN|Infinity|e\+/.test(huge));
  const [a, b] = bars(huge);
  assert.ok(Math.abs(num(a!, 'width') / num(b!, 'width') - 4) < 0.01);
  assert.ok(elements(huge, 'text').some((t) => t.attrs.class === 'tick' && / P$/.test(t.text!)), 'ticks in peta');
  assertNoTextOverlaps(huge);

  const flatLine = renderLineChart({ kind: 'line', id: 'l', title: 't', xLabel: 'x', unit: 'ms', better: 'lower', series: [{ label: 's', points: [[5, 0], [5, 0]] }] });
  assertWellFormed(flatLine);
  assert.ok(!/NaN|Infinity/.test(flatLine));
});

test('a value that is not a finite number is refused, naming where it is', () => {
  assert.throws(() => renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: Number.NaN }] }])), /g \/ a value/);
  assert.throws(() => renderBarChart(barChart([{ label: 'g', bars: [{ label: 'a', value: 1, high: Infinity }] }])), /high/);
  assert.throws(() => renderLineChart({ kind: 'line', id: 'l', title: 't', xLabel: 'x', unit: 'ms', better: 'lower', series: [{ label: 's', points: [[1, Number.NaN]] }] }), /s point 0 y/);
});

test('long labels wrap and no two labels overlap, in bar and line charts alike', () => {
  const long = 'encode: RTM_NEWROUTE (dst, gateway, oif, priority, table, metrics) and then some more words to wrap';
  const svg = renderBarChart(barChart(
    Array.from({ length: 6 }, (_, i) => ({
      label: `${long} #${i}`,
      bars: [
        { label: `contender with a rather long name ${i % 3}`, value: 10 ** i, low: 0.8 * 10 ** i, high: 1.3 * 10 ** i },
        { label: 'the reference plugin', value: 2 ** i, reference: true },
      ],
    })),
    { title: `${long} as a title that is far too long for one line of the chart`, note: `${long} ${long}`, unit: 'messages per second' },
  ));
  assertWellFormed(svg);
  assert.ok(elements(svg, 'text').filter((t) => t.attrs.class === 'group-label').length > 6, 'group labels wrapped onto several lines');
  assertNoTextOverlaps(svg);

  const line = renderLineChart({
    kind: 'line', id: 'l', title: 'ADD latency against the pod count', xLabel: 'pods', unit: 'ms', better: 'lower',
    series: Array.from({ length: 7 }, (_, s) => ({ label: `series number ${s} with a long label`, points: Array.from({ length: 50 }, (_, i): [number, number] => [i * 10, s * 1000 + i * i]) })),
  });
  assertWellFormed(line);
  assertNoTextOverlaps(line);
});

test('line charts: one path per series, higher values drawn higher, distinct colours', () => {
  const chart: LineChart = {
    kind: 'line', id: 'l', title: 't', xLabel: 'leases', unit: 'ms', better: 'lower',
    series: [{ label: 'sluice', points: [[100, 1], [10000, 2], [65000, 1.5]] }, { label: 'host-local', points: [[100, 5], [65000, 1000]] }],
  };
  const svg = renderLineChart(chart);
  assertWellFormed(svg);
  const lines = elements(svg, 'polyline');
  assert.equal(lines.length, 2);
  assert.notEqual(lines[0]!.attrs.stroke, lines[1]!.attrs.stroke);
  const pts = (e: Element) => e.attrs.points!.split(' ').map((p) => p.split(',').map(Number) as [number, number]);
  const [s, h] = [pts(lines[0]!), pts(lines[1]!)];
  assert.ok(s[1]![1] < s[0]![1], 'y=2 is above y=1');
  assert.ok(h[1]![1] < s[2]![1], '1000 is above 1.5');
  assert.ok(s[0]![0] < s[1]![0] && s[1]![0] < s[2]![0], 'x ascending left to right');
  assert.ok(Math.abs(s[2]![0] - h[1]![0]) < 0.01, 'same x, same place');
  for (const text of ['leases', 'ms', 'sluice', 'host-local', 'Lower is better']) assert.ok(elements(svg, 'text').some((t) => t.text === text), text);
});

test('niceTicks: round steps covering the range, zero-width ranges widened', () => {
  assert.deepEqual(niceTicks(0, 9.7), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0, 0), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 0, 1), [0, 1]);
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(niceTicks(5, 5), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(niceTicks(-3, 7), [-4, -2, 0, 2, 4, 6, 8]);
  assert.deepEqual(niceTicks(0, 0.3), [0, 0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(0, 0.3, 6), [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
  const big = niceTicks(0, 1234567);
  assert.equal(big[0], 0);
  assert.ok(big.at(-1)! >= 1234567 && big.length <= 8);
  assert.throws(() => niceTicks(0, Infinity), RangeError);
});

test('numbers: compact values, tick labels sharing one prefix, units on bar labels', () => {
  assert.equal(formatCompact(0), '0');
  assert.equal(formatCompact(812), '812');
  assert.equal(formatCompact(1234567), '1.23 M');
  assert.equal(formatCompact(999_950), '1 M');
  assert.equal(formatCompact(0.0123), '0.0123');
  assert.equal(formatCompact(2.5e15), '2.5 P');
  assert.equal(formatCompact(-1500), '-1.5 k');
  assert.deepEqual(formatTicks([0, 500_000, 1_000_000, 1_500_000]), ['0', '0.5 M', '1 M', '1.5 M']);
  assert.deepEqual(formatTicks([0, 0.25, 0.5]), ['0', '0.25', '0.5']);
  assert.deepEqual(formatTicks([0, 2000, 4000]), ['0', '2 k', '4 k']);
  assert.equal(formatValue(19.8, 'ms'), '19.8 ms');
  assert.equal(formatValue(2.8, '× node-netlink'), '2.8×');
  assert.equal(formatValue(336000, 'messages per second'), '336 k');
  assert.deepEqual(wrapText('a b c', 1000, 12), ['a b c']);
  assert.ok(wrapText('aaaa bbbb cccc', estimateTextWidth('aaaa bbbb', 12), 12).length === 2);
  assert.ok(wrapText('x'.repeat(100), 100, 12).every((l) => estimateTextWidth(l, 12) <= 100));
});
