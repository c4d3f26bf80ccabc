"""What the browser test reads from JupyterLab's DOM: JavaScript probes, each returning plain JSON.

The selectors are the ones fixed for issue 19 (cards ``.lambdalab-card`` / ``.lambdalab-field``, timeline
traces named by phase, ``.lambdalab-panel`` with its "Start" button and ``.lambdalab-status``, the board's
``.lambdalab-board .lambdalab-tile[data-state]``). Colours are compared after the browser normalises them
(``norm``: any CSS colour -> ``rgb(r, g, b)``), so ``#16a34a`` equals plotly's ``rgb(22, 163, 74)``.
"""

from __future__ import annotations

# Defines norm(colour) and cellOf(element) (the element's cell number, as JupyterLab counts all cells from 0).
_HELPERS = """
    const norm = c => { if (!c) return String(c); const e = document.createElement('span'); e.style.color = c;
        document.body.appendChild(e); const v = getComputedStyle(e).color; e.remove(); return v; };
    const cellOf = el => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].indexOf(el.closest('.jp-Cell'));
    const box = el => { const r = el.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
"""

# colours (a dict of name -> CSS colour) normalised by the browser
NORM_JS = (
    f"colours => {{ {_HELPERS} return Object.fromEntries(Object.entries(colours).map(([k, v]) => [k, norm(v)])); }}"
)

# Every card and every field in it, as laid out now. width: null keeps the output area's width; a number sets
# each card's output area to that many px first (and restores it after).
CARDS_JS = f"""width => {{ {_HELPERS}
    const cards = [...document.querySelectorAll('.jp-OutputArea .lambdalab-card')];
    const areas = [...new Set(cards.map(c => c.closest('.jp-OutputArea-output') || c.parentElement))];
    const saved = areas.map(a => a.getAttribute('style'));
    if (width !== null) areas.forEach(a => {{ a.style.width = width + 'px'; a.style.maxWidth = width + 'px';
        a.style.flex = '0 0 ' + width + 'px'; }});
    try {{
        return cards.map(card => {{
            const c = box(card);
            const area = box(card.closest('.jp-OutputArea-output') || card.parentElement);
            const kind = ['result', 'function', 'report'].find(k => card.classList.contains('lambdalab-' + k)) || '?';
            return {{
                cell: cellOf(card), kind, box: c, area,
                text: card.innerText.replace(/\\s+/g, ' ').trim().slice(0, 80),
                scroll_width: card.scrollWidth, client_width: card.clientWidth,
                fields: [...card.querySelectorAll('.lambdalab-field')].map(f => ({{
                    text: f.innerText.replace(/\\s+/g, ' ').trim().slice(0, 60), box: box(f),
                    scroll_width: f.scrollWidth, client_width: f.clientWidth,
                    hidden: getComputedStyle(f).visibility === 'hidden' || getComputedStyle(f).display === 'none',
                }})),
            }};
        }});
    }} finally {{
        areas.forEach((a, i) => saved[i] === null ? a.removeAttribute('style') : a.setAttribute('style', saved[i]));
    }}
}}"""

# Pink boxes: stream output on stderr (JupyterLab draws it as an error), with its cell.
STDERR_JS = f"""() => {{ {_HELPERS}
    return [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(e => ({{cell: cellOf(e), text: e.textContent.trim().slice(0, 300)}}));
}}"""

# The box around every card on the page (and its key), a few px of margin: the cards' screenshot.
CARDS_BOX_JS = """() => {
    const boxes = [...document.querySelectorAll('.jp-OutputArea .lambdalab-card, .jp-OutputArea .lambdalab-key')]
        .map(e => e.getBoundingClientRect());
    const left = Math.min(...boxes.map(b => b.left)) - 6, top = Math.min(...boxes.map(b => b.top)) - 6;
    const right = Math.max(...boxes.map(b => b.right)) + 6, bottom = Math.max(...boxes.map(b => b.bottom)) + 6;
    return {x: left, y: top, width: right - left, height: bottom - top};
}"""

# The result cards' phase bars (svg.lambdalab-timeline rect.phase-<key>) and cold/warm badges.
CARD_BARS_JS = f"""() => {{ {_HELPERS}
    return [...document.querySelectorAll('.jp-OutputArea .lambdalab-card')].map(card => ({{
        cell: cellOf(card),
        rects: [...card.querySelectorAll('svg.lambdalab-timeline rect')].map(r => ({{
            phases: [...r.classList].filter(c => c.startsWith('phase-')).map(c => c.slice(6)),
            fill: norm(getComputedStyle(r).fill), width: r.getBoundingClientRect().width,
            title: (r.querySelector('title') || {{}}).textContent || '',
        }})),
        badges: [...card.querySelectorAll('.lambdalab-badge')].map(b => ({{
            text: b.textContent.trim(), background: norm(getComputedStyle(b).backgroundColor) }})),
        key: ((card.querySelector('.lambdalab-key') || card.closest('.jp-OutputArea').querySelector('.lambdalab-key'))
              || {{}}).textContent || null,
    }}));
}}"""

# Every plotly figure: its title, traces (name, colour, points), legend entries (name, swatch colour), and,
# per trace, the drawn width in px of every segment (x0, x1 between gaps) at the figure's current size.
FIGURES_JS = f"""() => {{ {_HELPERS}
    const finite = v => v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v));
    return [...document.querySelectorAll('.jp-OutputArea .js-plotly-plot')].filter(gd => gd._fullLayout).map(gd => {{
        const ax = gd._fullLayout.xaxis;
        const px = v => ax.l2p(ax.d2l ? ax.d2l(v) : Number(v));
        const title = ((gd._fullLayout.title || {{}}).text || '');
        const traces = gd._fullData.map(t => {{
            const x = t.x ? Array.from(t.x) : [], y = t.y ? Array.from(t.y) : [];
            const custom = t.customdata ? Array.from(t.customdata) : [];
            const segments = [];
            if ((t.mode || '').includes('lines')) {{
                for (let i = 0; i + 1 < x.length; i++) {{
                    if (finite(x[i]) && finite(x[i + 1]) && !(i > 0 && finite(x[i - 1]))) {{
                        segments.push({{x0: Number(x[i]), x1: Number(x[i + 1]), row: y[i], px: px(x[i + 1]) - px(x[i]),
                                        ms: finite(custom[i]) ? Number(custom[i]) : null}});
                    }}
                }}
            }}
            const lines = (t.mode || '').includes('lines') || (t.type || '').includes('line');
            const bar = (t.type || '').startsWith('bar');
            const colour = lines && !bar ? (t.line || {{}}).color : (t.marker || {{}}).color;
            return {{name: t.name, type: t.type, visible: t.visible, showlegend: t.showlegend,
                     colour: typeof colour === 'string' ? norm(colour) : null,
                     points: x.filter(finite).length, rows: [...new Set(segments.map(s => s.row))], segments}};
        }});
        const legend = [...gd.querySelectorAll('.legend .traces')].map(item => {{
            const d = item.__data__ && item.__data__[0] && item.__data__[0].trace;
            const line = item.querySelector('.legendlines path');
            const point = item.querySelector('.legendpoints path');
            const swatch = line ? getComputedStyle(line).stroke : point ? getComputedStyle(point).fill : null;
            return {{name: d ? d.name : item.textContent.trim(), swatch: swatch ? norm(swatch) : null}};
        }});
        const yticks = [...gd.querySelectorAll('.yaxislayer-above .ytick text, .ytick text')].map(e => e.textContent);
        return {{cell: cellOf(gd), title, traces, legend, yticks, widget: !gd.classList.contains('jp-RenderedPlotly'),
                 width: gd.getBoundingClientRect().width, height: gd.getBoundingClientRect().height}};
    }});
}}"""

# Panel samples, every 100 ms from now on: status text, the board's tiles, the charts' points.
PANEL_SAMPLER_JS = """() => {
    if (window.__lambdalabSamples) return;
    window.__lambdalabSamples = [];
    const t0 = performance.now();
    setInterval(() => {
        const panel = document.querySelector('.lambdalab-panel');
        if (!panel) return;
        const status = panel.querySelector('.lambdalab-status');
        const text = status ? status.textContent
            : [...panel.querySelectorAll('.widget-html')].map(e => e.textContent).join(' ');
        const tiles = [...panel.querySelectorAll('.lambdalab-board .lambdalab-tile')].map(t => [
            t.getAttribute('data-env'), t.getAttribute('data-state'), getComputedStyle(t).backgroundColor,
            t.getAttribute('title') || '']);
        const points = [...panel.querySelectorAll('.js-plotly-plot')]
            .map(gd => (gd.data || []).reduce((n, t) => n + ((t.x && t.x.length) || 0), 0)).reduce((a, b) => a + b, 0);
        window.__lambdalabSamples.push({t: performance.now() - t0, status: text.trim(), tiles, points,
                                        has_status_class: !!status});
        // every colour a tile takes, as it takes it (samples every 100 ms can miss a short invoke)
        const grid = panel.querySelector('.lambdalab-board');
        if (grid && !window.__lambdalabTileObserver) {
            window.__lambdalabTileChanges = [];
            window.__lambdalabTileObserver = new MutationObserver(records => {
                const now = performance.now() - t0, running = (status ? status.textContent : '').includes('running ·');
                for (const r of records) {
                    const tile = r.target.closest && r.target.closest('.lambdalab-tile');
                    if (tile) window.__lambdalabTileChanges.push({t: now, running, env: tile.getAttribute('data-env'),
                        colour: getComputedStyle(tile).backgroundColor});
                }
            });
            window.__lambdalabTileObserver.observe(grid, {subtree: true, attributes: true,
                                                          attributeFilter: ['data-state', 'style']});
        }
    }, 100);
}"""
PANEL_SAMPLES_JS = "() => window.__lambdalabSamples || []"
TILE_CHANGES_JS = "() => window.__lambdalabTileChanges || []"
STATUS_JS = """() => { const p = document.querySelector('.lambdalab-panel'); if (!p) return '';
    const s = p.querySelector('.lambdalab-status');
    return (s ? s.textContent : [...p.querySelectorAll('.widget-html')].map(e => e.textContent).join(' ')).trim(); }"""

# The panel's progress bar: its fraction (from the bar's style width, not its animated box) and classes.
PROGRESS_JS = """() => {
    const bar = document.querySelector('.lambdalab-panel .lambdalab-progress .progress-bar')
        || document.querySelector('.lambdalab-panel .widget-progress .progress-bar');
    if (!bar) return null;
    return {fraction: parseFloat(bar.style.width) / 100, classed: !!bar.closest('.lambdalab-progress')};
}"""

# Scroll the panel's top to the top of the notebook area, then measure what a 1366x768 screen shows.
PANEL_FIT_JS = f"""() => {{ {_HELPERS}
    const panel = document.querySelector('.lambdalab-panel');
    if (!panel) return null;
    const scroller = panel.closest('.jp-WindowedPanel-outer') || panel.closest('.jp-Notebook');
    panel.scrollIntoView({{block: 'start'}});
    const s = box(scroller);
    const visible = {{top: Math.max(s.top, 0), bottom: Math.min(s.bottom, window.innerHeight),
                      left: Math.max(s.left, 0), right: Math.min(s.right, window.innerWidth)}};
    const start = [...panel.querySelectorAll('button')].find(b => b.textContent.trim() === 'Start');
    const board = panel.querySelector('.lambdalab-board');
    return {{panel: box(panel), visible, viewport: [window.innerWidth, window.innerHeight],
             panel_scroll: [panel.scrollWidth, panel.clientWidth, panel.scrollHeight, panel.clientHeight],
             start: start ? box(start) : null, board: board ? box(board) : null,
             tiles: panel.querySelectorAll('.lambdalab-board .lambdalab-tile').length,
             left_sidebar_open: !!document.querySelector('#jp-left-stack:not(.lm-mod-hidden)')}};
}}"""
