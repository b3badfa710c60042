/* The line under the toolbar that says who sent this image back to review and why (state.sent_back), so the
 * reviewer knows what to look for. Hidden for images that were not sent back. */

export function showSentBack(state) {
  const line = document.getElementById("rv-sent-back");
  if (!line) return;
  const sent = state.sent_back;
  line.hidden = !sent;
  if (!sent) return;
  const reason = sent.reason ? sent.reason : "no reason given";
  line.textContent = `Sent back to review by ${sent.by || "an admin"}: ${reason}`;
}
