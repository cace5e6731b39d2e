// The bucket page's upload: each chosen file is PUT as the raw request body
// (so the browser streams it from disk and reports progress), one at a time,
// each with its own progress bar; then the listing is reloaded with htmx.
(function () {
  "use strict";

  function csrfToken() {
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  function row(list, name) {
    var li = document.createElement("li");
    li.className = "upload";
    var label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    var status = document.createElement("span");
    status.className = "status";
    status.textContent = "waiting";
    li.append(label, " ", bar, " ", status);
    list.appendChild(li);
    return { li: li, bar: bar, status: status };
  }

  function send(url, key, file, view) {
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", url + "?key=" + encodeURIComponent(key));
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) {
          view.bar.value = Math.floor((e.loaded / e.total) * 100);
          view.status.textContent = view.bar.value + "%";
        }
      };
      xhr.onload = function () {
        var answer = {};
        try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {}; }
        if (xhr.status === 200) {
          view.bar.value = 100;
          view.li.dataset.state = "done";
          view.status.textContent = "uploaded (" + answer.ETag + ")";
          resolve(true);
        } else {
          view.li.dataset.state = "failed";
          view.status.textContent = (answer.Code || "Error " + xhr.status) + ": " + (answer.Message || xhr.statusText);
          resolve(false);
        }
      };
      xhr.onerror = function () {
        view.li.dataset.state = "failed";
        view.status.textContent = "the connection failed";
        resolve(false);
      };
      view.li.dataset.state = "uploading";
      view.status.textContent = "0%";
      xhr.send(file);
    });
  }

  function setup() {
    var form = document.getElementById("upload-form");
    if (!form) return;
    var list = document.getElementById("upload-progress");
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(form.querySelector("input[type=file]").files);
      if (!files.length) return;
      var folder = form.querySelector("input[name=folder]").value.trim().replace(/^\/+/, "");
      if (folder && !folder.endsWith("/")) folder += "/";
      var max = Number(form.dataset.max);
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      var views = files.map(function (file) { return row(list, form.dataset.prefix + folder + file.name); });
      for (var i = 0; i < files.length; i++) {
        var key = form.dataset.prefix + folder + files[i].name;
        if (files[i].size > max) {
          views[i].li.dataset.state = "failed";
          views[i].status.textContent = "EntityTooLarge: over the " + max + " byte limit";
          continue;
        }
        await send(form.dataset.url, key, files[i], views[i]);
      }
      button.disabled = false;
      form.reset();
      if (window.htmx) {
        window.htmx.ajax("GET", form.dataset.refresh, { target: "#listing", swap: "innerHTML" });
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setup);
  } else {
    setup();
  }
})();
