// The Code tab's editor (templates/functions/tab_code.html). The page is a
// plain form that works without JavaScript; this turns each
// textarea[data-editor] into CodeMirror 5 (vendored, loaded on first use from
// the data-editor-assets of .code-editor), folds the file tree's folders, saves
// on Ctrl+S, and warns before unsaved edits are lost: on leaving the page
// (beforeunload) and on any htmx request that would replace the editor
// (htmx:confirm), e.g. opening another tab of the function or another file.
// The tab's fragment includes this script on every swap; it sets itself up once.
(function () {
  "use strict";
  if (window.StratusEditor) {
    window.StratusEditor.scan(document);
    return;
  }
  var LEAVE = "You have unsaved changes in the editor. Leave and lose them?";
  var loading = null;

  // Language (data-language, from the file's extension) -> CodeMirror mode and indent.
  var LANGUAGES = {
    python: { mode: "python", indent: 4 },
    javascript: { mode: "javascript", indent: 2 },
    json: { mode: { name: "javascript", json: true }, indent: 2 },
  };

  function loadAssets(holder) {
    if (window.CodeMirror && window.CodeMirror.modes.python && window.CodeMirror.modes.javascript) {
      return Promise.resolve();
    }
    if (loading) return loading;
    var css = holder.getAttribute("data-editor-css");
    if (css && !document.querySelector('link[href="' + css + '"]')) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = css;
      document.head.appendChild(link);
    }
    // One after another: the modes need the CodeMirror global.
    loading = holder.getAttribute("data-editor-assets").split(/\s+/).filter(Boolean).reduce(function (chain, src) {
      return chain.then(function () {
        return new Promise(function (resolve, reject) {
          var script = document.createElement("script");
          script.src = src;
          script.onload = resolve;
          script.onerror = function () { reject(new Error("could not load " + src)); };
          document.head.appendChild(script);
        });
      });
    }, Promise.resolve());
    loading.catch(function () { loading = null; });  // the plain textarea stays usable
    return loading;
  }

  function editors() {
    return Array.prototype.map.call(document.querySelectorAll(".CodeMirror"), function (el) {
      return el.CodeMirror;
    }).filter(function (cm) { return cm && cm.stratus; });
  }

  function isDirty(cm) {
    return cm.stratus.unsaved || !cm.isClean(cm.stratus.clean);
  }

  function dirtyEditors() {
    return editors().filter(isDirty);
  }

  function showState(cm) {
    var form = cm.getTextArea().form;
    var dirty = isDirty(cm);
    if (!form) return;
    form.classList.toggle("unsaved", dirty);
    var status = form.querySelector(".editor-status");
    if (status) status.textContent = dirty ? "Unsaved changes" : "";
  }

  function submitForm(form) {
    var button = form && form.querySelector("[data-editor-save]");
    if (!button) return;  // read-only: nothing to save
    editors().forEach(function (cm) { cm.save(); });
    if (form.requestSubmit) form.requestSubmit(button);
    else button.click();
  }

  function enhance(textarea) {
    if (textarea.getAttribute("data-enhanced")) return;
    textarea.setAttribute("data-enhanced", "true");
    var lang = LANGUAGES[textarea.getAttribute("data-language")] || { mode: null, indent: 4 };
    var save = function (cm) { submitForm(cm.getTextArea().form); };
    var cm = window.CodeMirror.fromTextArea(textarea, {
      mode: lang.mode,
      lineNumbers: true,
      indentUnit: lang.indent,
      tabSize: lang.indent,
      indentWithTabs: false,
      readOnly: textarea.readOnly,
      screenReaderLabel: textarea.getAttribute("aria-label") || "Code",
      extraKeys: {
        // Tab indents with spaces: a selection as a block, else to the next stop.
        Tab: function (cm) {
          cm.execCommand(cm.somethingSelected() ? "indentMore" : "insertSoftTab");
        },
        "Shift-Tab": "indentLess",
        "Ctrl-S": save,
        "Cmd-S": save,
      },
    });
    cm.stratus = {
      clean: cm.changeGeneration(true),
      // Set by the server after a refused save: the text is not what is stored.
      unsaved: textarea.getAttribute("data-unsaved") === "true",
    };
    cm.on("changes", showState);
    showState(cm);
  }

  function foldTree(root) {
    Array.prototype.forEach.call(root.querySelectorAll(".file-tree .folder-toggle"), function (button) {
      if (button.getAttribute("data-wired")) return;
      button.setAttribute("data-wired", "true");
      button.addEventListener("click", function () {
        var folder = button.closest("li").getAttribute("data-path") + "/";
        var open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        var items = button.closest("ul").querySelectorAll("li");
        Array.prototype.forEach.call(items, function (li) {
          var path = li.getAttribute("data-path") || "";
          if (path.indexOf(folder) !== 0) return;
          if (open) {
            // Unfold: show what is not inside a still folded subfolder.
            var hiddenBy = Array.prototype.some.call(items, function (other) {
              var p = other.getAttribute("data-path") + "/";
              var t = other.querySelector(".folder-toggle");
              return t && t.getAttribute("aria-expanded") === "false" && p !== folder &&
                p.indexOf(folder) === 0 && path.indexOf(p) === 0;
            });
            li.hidden = hiddenBy;
          } else {
            li.hidden = true;
          }
        });
      });
    });
  }

  function scan(root) {
    root = root || document;
    foldTree(root);
    var holder = document.querySelector(".code-editor[data-editor-assets]");
    var textareas = document.querySelectorAll("textarea[data-editor]:not([data-enhanced])");
    if (!holder || !textareas.length) return;
    loadAssets(holder).then(function () {
      Array.prototype.forEach.call(document.querySelectorAll("textarea[data-editor]"), enhance);
    }, function (err) {
      console.warn("editor:", err.message, "- the plain text box is used instead");
    });
  }

  // Copy the editor's text into the textarea before any form is sent: the
  // capture phase on the document runs before htmx's listener on the form.
  document.addEventListener("submit", function () {
    editors().forEach(function (cm) { cm.save(); });
  }, true);

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "s" || event.key === "S")) {
      var form = document.querySelector("form[data-editor-form]");
      if (!form) return;
      event.preventDefault();  // not the browser's "Save page as"
      submitForm(form);
    }
  });

  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail;
    // Saving or deleting the open file is the editor's own request.
    if (detail.elt && detail.elt.closest && detail.elt.closest("form[data-editor-form]")) return;
    var lost = dirtyEditors().filter(function (cm) {
      return detail.target && detail.target.contains(cm.getWrapperElement());
    });
    if (!lost.length) return;
    event.preventDefault();
    if (window.confirm(LEAVE)) {
      lost.forEach(function (cm) { cm.stratus.unsaved = false; cm.stratus.clean = cm.changeGeneration(true); });
      detail.issueRequest(true);
    }
  });

  window.addEventListener("beforeunload", function (event) {
    if (!dirtyEditors().length) return;
    event.preventDefault();
    event.returnValue = LEAVE;  // older browsers show a dialog only when this is set
    return LEAVE;
  });

  // htmx keeps a copy of the page for the back button: keep the plain
  // textarea in it, not CodeMirror's elements (which have no editor behind them).
  document.addEventListener("htmx:beforeHistorySave", function () {
    editors().forEach(function (cm) {
      var textarea = cm.getTextArea();
      cm.toTextArea();
      textarea.removeAttribute("data-enhanced");
    });
  });

  document.addEventListener("htmx:load", function (event) { scan(event.target); });
  document.addEventListener("htmx:afterSettle", function (event) { scan(event.target); });
  document.addEventListener("htmx:historyRestore", function () { scan(document); });

  window.StratusEditor = { scan: scan, dirty: function () { return dirtyEditors().length > 0; } };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { scan(document); });
  } else {
    scan(document);
  }
})();
