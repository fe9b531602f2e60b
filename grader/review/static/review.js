// The review app's only script (served from /static: the CSP allows no inline script). Keyboard first.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const status = document.getElementById("status");
  const say = (msg, bad) => { status.textContent = msg; status.className = bad ? "error" : ""; };
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
    let data = {};
    try { data = await r.json(); } catch (e) { data = { error: r.statusText }; }
    if (!r.ok) { say(data.error || r.statusText, true); throw new Error(data.error || r.statusText); }
    return data;
  }
  // names hidden by default; the choice lasts for the tab
  const names = document.getElementById("show-names");
  const setNames = (on) => { document.body.classList.toggle("names-hidden", !on); names.checked = on;
    sessionStorage.setItem("grader-names", on ? "1" : ""); };
  setNames(sessionStorage.getItem("grader-names") === "1");
  names.addEventListener("change", () => setNames(names.checked));
  const typing = (e) => ["TEXTAREA", "INPUT", "SELECT"].includes(e.target.tagName);

  const answer = document.getElementById("answer");
  let chain = Promise.resolve();
  function body() {  // read when the save is sent: after the previous save, with its event as the base
    const items = [...document.querySelectorAll("input.item:checked")].map((x) => x.dataset.item);
    return { assignment: answer.dataset.assignment, check: answer.dataset.check, student: answer.dataset.student,
      items: items, adjust: Number(document.getElementById("adjust").value || 0),
      comment: document.getElementById("comment").value, base: Number(answer.dataset.base) };
  }
  function save() {
    chain = chain.then(() => post("/api/grade", body())).then((d) => {
      answer.dataset.base = d.event;
      document.getElementById("state").className = "graded";
      document.getElementById("state").textContent = d.label;
      document.getElementById("left").textContent = d.left;
      document.body.dataset.saved = String(d.event);
      say(d.label, false);
    }).catch(() => {});
    return chain;
  }
  async function go(url) { await chain; window.location.href = url; }
  if (answer) {
    document.querySelectorAll("input.item").forEach((box) => box.addEventListener("change", save));
    document.getElementById("save").addEventListener("click", save);
    document.getElementById("adjust").addEventListener("change", save);
    document.getElementById("bank").addEventListener("change", (e) => {
      if (e.target.value) { document.getElementById("comment").value = e.target.value; save(); } });
    document.getElementById("comment").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); save(); }
      if (e.key === "Escape") { e.target.blur(); } });
    document.getElementById("item-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const f = new FormData(e.target);
      try {
        await post("/api/rubric", { assignment: answer.dataset.assignment, check: answer.dataset.check,
          item: f.get("item"), points: Number(f.get("points")), en: f.get("en"), ko: f.get("ko") || f.get("en") });
        window.location.reload();
      } catch (err) { /* shown */ }
    });
  }
  document.addEventListener("keydown", (e) => {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
    if (e.key === "h") { setNames(document.body.classList.contains("names-hidden")); return; }
    if (!answer) { return; }
    if (/^[1-9]$/.test(e.key)) {
      const box = document.querySelectorAll("input.item")[Number(e.key) - 1];
      if (box) { box.checked = !box.checked; save(); }
    } else if (e.key === "n") { go(answer.dataset.next); }
    else if (e.key === "p") { go(answer.dataset.prev); }
    else if (e.key === "u") { go(answer.dataset.ungraded); }
    else if (e.key === "c") { e.preventDefault(); document.getElementById("comment").focus(); }
  });
  document.querySelectorAll("button.decide").forEach((b) => b.addEventListener("click", async () => {
    const flag = b.closest(".flag"), sub = b.closest(".flagged");
    try {
      await post("/api/flag", { assignment: sub.dataset.assignment, student: sub.dataset.student,
        flag: flag.dataset.flag, decision: b.dataset.decision, why: flag.querySelector(".why").value,
        base: Number(flag.dataset.base) });
      window.location.reload();
    } catch (err) { /* shown */ }
  }));
  document.body.dataset.ready = "true";
})();
