// Live pages: each [data-live] region is fetched again every few seconds and replaced when it
// changed, unless the person is working inside it; ticked checkboxes stay ticked.
(function () {
  "use strict";
  const regions = document.querySelectorAll("[data-live]");
  if (!regions.length) return;
  const seconds = Math.min(...Array.from(regions, (r) => Number(r.dataset.liveSeconds) || 5));

  async function refresh() {
    if (document.hidden) return;
    let html;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin" });
      if (!response.ok || response.redirected) return;
      html = await response.text();
    } catch (error) {
      return; // offline for a moment: try again next time
    }
    const fresh = new DOMParser().parseFromString(html, "text/html");
    regions.forEach((region) => {
      const next = fresh.querySelector(`[data-live="${region.dataset.live}"]`);
      if (!next || next.innerHTML === region.innerHTML || region.contains(document.activeElement)) return;
      const ticked = new Set(Array.from(region.querySelectorAll("input[type=checkbox]:checked"), (box) => box.value));
      region.innerHTML = next.innerHTML;
      region.querySelectorAll("input[type=checkbox]").forEach((box) => { if (ticked.has(box.value)) box.checked = true; });
    });
  }
  window.setInterval(refresh, seconds * 1000);
})();
