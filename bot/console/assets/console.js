// outreach console: a little JavaScript on top of forms that work without it.
// - <select data-autosubmit> submits its form when changed.
// - An element with data-fragment="URL" inside a form is refreshed with the
//   HTML the server answers when the form's data is POSTed to URL, shortly
//   after any field of the form changes (live counts and previews). The rule
//   stays on the server: this only asks it.
(function () {
  "use strict";
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  document.querySelectorAll("form").forEach(function (form) {
    var parts = form.querySelectorAll("[data-fragment]");
    if (!parts.length) return;
    var timer = null, seq = 0;
    function refresh() {
      var mine = ++seq;
      parts.forEach(function (part) {
        fetch(part.getAttribute("data-fragment"), {
          // URL-encoded, as the form itself posts: handlers read r.PostForm.
          method: "POST", body: new URLSearchParams(new FormData(form)), credentials: "same-origin",
          headers: { "X-Fragment": "1" }
        }).then(function (res) {
          if (!res.ok) throw new Error(res.status);
          return res.text();
        }).then(function (html) {
          if (mine === seq) { part.innerHTML = html; }
        }).catch(function () { /* the server-rendered values stay */ });
      });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 300);
    });
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(refresh, 100);
    });
  });
  // Pages that follow a job in progress (data-refresh="seconds", maybe a
  // fraction) reload their live part until it says it is done.
  document.querySelectorAll("[data-refresh][data-src]").forEach(function (el) {
    var every = parseFloat(el.getAttribute("data-refresh")) * 1000;
    function tick() {
      if (el.getAttribute("data-done") === "true") return;
      fetch(el.getAttribute("data-src"), { credentials: "same-origin", headers: { "X-Fragment": "1" } })
        .then(function (res) { if (!res.ok) throw new Error(res.status); return res.text(); })
        .then(function (html) {
          el.innerHTML = html;
          var done = el.querySelector("[data-done]");
          if (done) el.setAttribute("data-done", done.getAttribute("data-done"));
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 2); });
    }
    setTimeout(tick, every);
  });
})();
