// Gradio's own messages that the page shows before GenLab's code runs (a file over the upload
// limit, refused in the browser; a full queue) are in English only. In a Chinese session, the
// Chinese follows them in the same toast. The session's language is the header's radio.
(() => {
  const SAID = [
    [/File\(s\) exceed the maximum allowed size of ([^:]+):(.*)/, (m) => `文件超过允许的最大大小 ${m[1].trim()}：${m[2].trim()}`],
    [/This application is currently busy\. Please try again\./, () => "应用当前繁忙，请稍后再试。"],
  ];
  const chinese = () => {
    const picked = document.querySelector("#lang-switch input:checked");
    return picked !== null && picked.value === "zh";
  };
  const translate = (el) => {
    if (el.dataset.genlabZh || !chinese()) return;
    for (const [pattern, zh] of SAID) {
      const m = el.textContent.match(pattern);
      if (m) {
        el.dataset.genlabZh = "1";
        el.append(document.createElement("br"), zh(m));
        return;
      }
    }
  };
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) {
        if (node.nodeType !== 1) continue;
        const bodies = node.matches(".toast-message-text") ? [node] : node.querySelectorAll(".toast-message-text");
        bodies.forEach(translate);
      }
    }
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
