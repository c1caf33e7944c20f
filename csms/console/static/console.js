// A refresh would replace a form being filled in: poll only while none of the element's
// inputs has the focus or holds text (htmx trigger filter).
window.csmsIdle = function (id) {
  var element = document.getElementById(id);
  if (!element) return true;
  if (element.contains(document.activeElement) && document.activeElement.tagName === "INPUT") return false;
  return Array.prototype.every.call(element.querySelectorAll("input[type=text], input:not([type])"),
                                    function (input) { return !input.value; });
};

// Level 1 alarms: a beep every few seconds while a level 1 alarm is open on the page
// (browsers play sound only after the user has interacted with the page once).
(function () {
  var ctx = null;
  function beep() {
    if (!document.querySelector("[data-level1]")) return;
    try {
      ctx = ctx || new (window.AudioContext || window.webkitAudioContext)();
      var osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = 880; gain.gain.value = 0.1;
      osc.connect(gain); gain.connect(ctx.destination);
      osc.start(); osc.stop(ctx.currentTime + 0.3);
    } catch (e) { /* no audio here */ }
  }
  setInterval(beep, 4000);
})();
