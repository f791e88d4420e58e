// conflictlab report: the matrix filter and the timelines. Everything the page shows is in
// the page; this script only filters rows and draws the histories kept as JSON in the
// page (script elements of type application/json), when a timeline is opened. It writes text with
// textContent only, so nothing from a run can become markup.
(function () {
  "use strict";

  // ---- the matrix filter ----
  var table = document.getElementById("matrix-table");
  var state = { status: "all", label: "", name: "" };
  function applyFilter() {
    if (!table) return;
    var rows = table.querySelectorAll("tbody tr.scenario-row");
    var shown = 0;
    rows.forEach(function (tr) {
      var statuses = (tr.getAttribute("data-status") || "").split(" ");
      var labels = (tr.getAttribute("data-labels") || "").split(" ");
      var ok = (state.status === "all" || statuses.indexOf(state.status) >= 0) &&
        (state.label === "" || labels.indexOf(state.label) >= 0) &&
        (state.name === "" || (tr.getAttribute("data-name") || "").toLowerCase().indexOf(state.name) >= 0);
      tr.hidden = !ok;
      if (ok) shown++;
    });
    var count = document.getElementById("shown-count");
    if (count) count.textContent = shown + " of " + rows.length + " scenarios";
    document.querySelectorAll("button.status-filter").forEach(function (b) {
      b.classList.toggle("active", b.getAttribute("data-status") === state.status);
    });
    document.querySelectorAll("button.label").forEach(function (b) {
      b.classList.toggle("active", b.getAttribute("data-label") === state.label);
    });
    var select = document.getElementById("label-filter");
    if (select && select.value !== state.label) select.value = state.label;
  }
  document.querySelectorAll("button.status-filter").forEach(function (b) {
    b.addEventListener("click", function () {
      state.status = b.getAttribute("data-status");
      applyFilter();
    });
  });
  document.querySelectorAll("button.label").forEach(function (b) {
    b.addEventListener("click", function () {
      var l = b.getAttribute("data-label");
      state.label = state.label === l ? "" : l;
      applyFilter();
    });
  });
  var labelSelect = document.getElementById("label-filter");
  if (labelSelect) labelSelect.addEventListener("change", function () { state.label = labelSelect.value; applyFilter(); });
  var nameInput = document.getElementById("name-filter");
  if (nameInput) nameInput.addEventListener("input", function () { state.name = nameInput.value.trim().toLowerCase(); applyFilter(); });

  // ---- timelines ----
  var GUTTER = 200, LANE = 240, BOX = LANE - 16, HEAD = 30, PITCH = 6, MINH = 62, GAP = 4;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function ms(ns) { return (ns / 1e6).toFixed(3) + " ms"; }
  function what(e) {
    if (e.table) return e.table + (e.itemId ? "/" + e.itemId : "");
    return e.path || e.op || "";
  }
  function statusText(e) { return e.status ? String(e.status) : "no answer"; }

  // layout gives every instant (a start or end of an event or step) a y: in time order,
  // gaps squeezed to PITCH, each box at least MINH tall, boxes of a lane never overlapping.
  function layout(data) {
    var ts = [];
    data.events.forEach(function (e) { ts.push(e.startNs, Math.max(e.endNs, e.startNs)); });
    data.steps.forEach(function (s) { if (!s.skipped) ts.push(s.startNs, Math.max(s.endNs, s.startNs)); });
    ts.sort(function (a, b) { return a - b; });
    var uniq = [];
    ts.forEach(function (t) { if (uniq.length === 0 || uniq[uniq.length - 1] !== t) uniq.push(t); });
    var index = new Map();
    uniq.forEach(function (t, i) { index.set(t, i); });
    var endsAt = uniq.map(function () { return []; });
    var startsAt = uniq.map(function () { return []; });
    data.events.forEach(function (e, i) {
      startsAt[index.get(e.startNs)].push(i);
      endsAt[index.get(Math.max(e.endNs, e.startNs))].push(i);
    });
    // Sub-columns: requests of one lane that overlap in time share its width.
    var laneOf = new Map();
    data.lanes.forEach(function (l, i) { laneOf.set(l, i); });
    var sub = new Array(data.events.length), width = new Array(data.events.length);
    var active = data.lanes.map(function () { return []; });
    var order = data.events.map(function (_, i) { return i; });
    order.sort(function (a, b) { return data.events[a].startNs - data.events[b].startNs || data.events[a].seq - data.events[b].seq; });
    order.forEach(function (i) {
      var e = data.events[i], lane = laneOf.get(e.actor);
      if (lane === undefined) { lane = data.lanes.length; data.lanes.push(e.actor); laneOf.set(e.actor, lane); active.push([]); }
      var act = active[lane].filter(function (j) { return Math.max(data.events[j].endNs, data.events[j].startNs) > e.startNs; });
      var used = act.map(function (j) { return sub[j]; });
      var s = 0;
      while (used.indexOf(s) >= 0) s++;
      sub[i] = s;
      act.push(i);
      active[lane] = act;
      act.forEach(function (j) { width[j] = Math.max(width[j] || 1, act.length); });
    });
    var stepStart = new Set();
    data.steps.forEach(function (s) { if (!s.skipped) stepStart.add(index.get(s.startNs)); });
    var y = new Array(uniq.length);
    var laneBottom = data.lanes.map(function () { return 0; });
    var allBottom = 0; // a step begins below everything before it
    var top = new Array(data.events.length), bottom = new Array(data.events.length);
    for (var k = 0; k < uniq.length; k++) {
      var yk = k > 0 ? y[k - 1] + PITCH : HEAD + 8;
      endsAt[k].forEach(function (i) {
        if (top[i] !== undefined) yk = Math.max(yk, top[i] + MINH);
      });
      startsAt[k].forEach(function (i) {
        if (sub[i] === 0) yk = Math.max(yk, laneBottom[laneOf.get(data.events[i].actor)] + GAP);
      });
      if (stepStart.has(k)) yk = Math.max(yk, allBottom + 2 * GAP);
      y[k] = yk;
      startsAt[k].forEach(function (i) { top[i] = yk; });
      endsAt[k].forEach(function (i) {
        bottom[i] = Math.max(yk, top[i] + MINH); // an instant (a direct write) still gets MINH
        var lane = laneOf.get(data.events[i].actor);
        laneBottom[lane] = Math.max(laneBottom[lane], bottom[i]);
        allBottom = Math.max(allBottom, bottom[i]);
      });
    }
    var height = HEAD + 8;
    data.events.forEach(function (_, i) { height = Math.max(height, bottom[i] + GAP); });
    y.forEach(function (v) { height = Math.max(height, v + PITCH); });
    return { y: y, index: index, top: top, bottom: bottom, sub: sub, width: width, laneOf: laneOf, height: height + 10 };
  }

  function boxClass(e) {
    var c = "ev";
    if (!e.method) c += " write"; // a write on the server's side: no request on the wire
    else if (e.status === 0) c += " noanswer";
    else if (e.conflict || e.status === 409 || e.status === 412) c += " conflict";
    else if (e.status >= 400 || e.error) c += " err";
    if (e.faults && e.faults.length) c += " faulted";
    return c;
  }

  function boxLines(e) {
    var l1 = (e.method || e.op || "write") + " " + what(e);
    var l2 = statusText(e);
    if (e.conflict || e.status === 409 || e.status === 412) l2 += " conflict";
    if (e.applied) l2 += " · applied";
    if (e.rows) l2 += " · " + e.rows + " row(s)";
    var sent = e.ifMatch && e.ifMatch.length ? e.ifMatch.join(",") : "";
    var l3 = "";
    if (sent || e.version) l3 = (sent ? "↑" + sent + " " : "") + (e.version ? "↓" + e.version : "");
    var l4 = e.faults && e.faults.length ? "⚡ " + e.faults.map(function (f) { return f.action; }).join(", ") : (e.error || e.note || "");
    return [l1, l2, l3, l4];
  }

  function draw(details) {
    if (details.getAttribute("data-drawn")) return;
    details.setAttribute("data-drawn", "1");
    var canvas = details.querySelector(".tl-canvas");
    var panel = details.querySelector(".tl-detail");
    var data;
    try {
      data = JSON.parse(details.querySelector("script.tl-data").textContent);
    } catch (err) {
      canvas.appendChild(el("div", "tl-empty", "this timeline's data could not be read"));
      return;
    }
    if (data.events.length === 0 && data.steps.length === 0) {
      canvas.appendChild(el("div", "tl-empty", "no request was recorded" + (data.cut && data.cut.reason ? " (left out by " + data.cut.reason + ")" : "")));
      return;
    }
    var L = layout(data);
    var width = GUTTER + data.lanes.length * LANE;
    canvas.style.width = width + "px";
    canvas.style.height = L.height + "px";
    data.lanes.forEach(function (name, i) {
      var head = el("div", "tl-lane-head", name);
      head.style.left = (GUTTER + i * LANE + 4) + "px";
      head.style.width = (LANE - 8) + "px";
      canvas.appendChild(head);
      var lane = el("div", "tl-lane");
      lane.style.left = (GUTTER + i * LANE + LANE / 2) + "px";
      lane.style.top = HEAD + "px";
      lane.style.height = (L.height - HEAD) + "px";
      canvas.appendChild(lane);
    });
    data.steps.forEach(function (s) {
      var failing = s.index === data.failing;
      var y0, y1;
      if (s.skipped) {
        return;
      }
      y0 = L.y[L.index.get(s.startNs)];
      y1 = L.y[L.index.get(Math.max(s.endNs, s.startNs))];
      data.events.forEach(function (e, i) { if (e.step === s.index && s.index > 0) y1 = Math.max(y1, L.bottom[i]); });
      if (failing) {
        var band = el("div", "tl-band");
        band.style.top = (y0 - 3) + "px";
        band.style.height = Math.max(y1 - y0 + 6, 18) + "px";
        band.style.width = width + "px";
        band.title = "the failing step";
        canvas.appendChild(band);
      }
      var line = el("div", "tl-step");
      line.style.top = (y0 - 3) + "px";
      line.style.width = width + "px";
      canvas.appendChild(line);
      var label = el("div", "tl-step-label" + (failing ? " failing" : ""),
        (s.index ? "step " + s.index : "end checks") + (s.line ? " · line " + s.line : "") + ": " + s.what);
      label.title = label.textContent + (failing ? " (failed)" : "");
      label.style.top = (y0 - 1) + "px";
      canvas.appendChild(label);
    });
    data.events.forEach(function (e, i) {
      var lane = L.laneOf.get(e.actor);
      var w = BOX / (L.width[i] || 1);
      var box = el("div", boxClass(e));
      box.style.left = (GUTTER + lane * LANE + 8 + L.sub[i] * w) + "px";
      box.style.width = (w - 2) + "px";
      box.style.top = L.top[i] + "px";
      box.style.height = (L.bottom[i] - L.top[i]) + "px";
      box.setAttribute("data-seq", e.seq);
      var lines = boxLines(e);
      box.title = "#" + e.seq + " " + lines.filter(Boolean).join("\n");
      lines.forEach(function (t, j) {
        var d = el("div", j === 0 ? "l1" : (j === 3 && e.faults && e.faults.length ? "fault" : ""), t || "\u00a0");
        box.appendChild(d);
      });
      box.addEventListener("click", function () {
        canvas.querySelectorAll(".ev.selected").forEach(function (b) { b.classList.remove("selected"); });
        box.classList.add("selected");
        showDetail(panel, e, data);
      });
      canvas.appendChild(box);
    });
  }

  function pretty(s) {
    try { return JSON.stringify(JSON.parse(s), null, 2); } catch (err) { return s; }
  }

  function showDetail(panel, e, data) {
    panel.hidden = false;
    panel.textContent = "";
    panel.appendChild(el("h4", "", "#" + e.seq + " " + (e.method || e.op || "write") + " " + what(e)));
    var dl = el("dl");
    function row(k, v) {
      if (v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0)) return;
      dl.appendChild(el("dt", "", k));
      dl.appendChild(el("dd", "", Array.isArray(v) ? v.join(", ") : v));
    }
    row("actor", e.actor);
    row("step", e.step ? e.step : "");
    row("sent", ms(e.startNs));
    row("answered", e.endNs !== e.startNs ? ms(e.endNs) + " (" + ms(e.endNs - e.startNs) + ")" : "");
    row("request", (e.method ? e.method + " " : "") + (e.path || "") + (e.query ? "?" + e.query : ""));
    row("status", statusText(e));
    row("error", e.error);
    row("op", e.op);
    row("row", e.table ? e.table + "/" + (e.itemId || "") : "");
    row("If-Match sent", e.ifMatch);
    row("version before", e.versionBefore);
    row("version after", e.version);
    row("applied", e.applied ? "yes" : "no");
    row("conflict", e.conflict || e.status === 409 || e.status === 412 ? "yes" : "");
    row("faults", (e.faults || []).map(function (f) { return f.action + (f.id ? " (" + f.id + ")" : ""); }));
    row("rows returned", e.rows);
    row("note", e.note);
    panel.appendChild(dl);
    [["request body", e.requestBody], ["response body", e.responseBody]].forEach(function (p) {
      if (!p[1]) return;
      panel.appendChild(el("h4", "", p[0]));
      panel.appendChild(el("pre", "", pretty(p[1])));
    });
    if (e.rowBefore || e.rowAfter) {
      var rows = el("div", "rows");
      [["row before", e.rowBefore], ["row after", e.rowAfter]].forEach(function (p) {
        var d = el("div");
        d.appendChild(el("h4", "", p[0]));
        d.appendChild(el("pre", "", p[1] ? pretty(p[1]) : "(none)"));
        rows.appendChild(d);
      });
      panel.appendChild(rows);
    }
  }

  var timelines = document.querySelectorAll("details.timeline");
  timelines.forEach(function (d) {
    d.addEventListener("toggle", function () { if (d.open) draw(d); });
  });
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    var t = document.getElementById(id);
    if (t && t.matches("details.timeline")) {
      t.open = true;
      draw(t);
      t.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", openTarget);
  // The first failing timelines are open from the start: what a reader looks at first.
  var opened = 0;
  timelines.forEach(function (d) {
    if (d.classList.contains("fail") && opened < 3) {
      d.open = true;
      opened++;
    }
  });
  openTarget();
  applyFilter();
})();
