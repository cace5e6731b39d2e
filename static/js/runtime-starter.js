// The create page: choosing another runtime swaps in its starter code and
// default handler, unless the person has changed them (then they stay).
(function () {
  function init() {
    const data = document.getElementById("runtime-starters");
    const runtime = document.querySelector("select[name=runtime]");
    const source = document.querySelector("textarea[name=source]");
    const handler = document.querySelector("input[name=handler]");
    if (!data || !runtime || !source || !handler) return;
    const starters = JSON.parse(data.textContent);
    const isStarter = (field, key) =>
      Object.values(starters).some((s) => s[key].trim() === field.value.trim());
    runtime.addEventListener("change", function () {
      const starter = starters[runtime.value];
      if (!starter) return;
      if (!source.value.trim() || isStarter(source, "source")) source.value = starter.source;
      if (!handler.value.trim() || isStarter(handler, "handler")) handler.value = starter.handler;
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
