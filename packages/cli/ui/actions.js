// Purge and replay: offered only when the server was started with --allow-actions, and always confirmed here first.
// The token comes from /api/state; the server also checks that the request comes from this page's origin.

const dialog = () => document.getElementById('confirm');

/** Asks `question` in the page's dialog; resolves true when confirmed. */
export function confirmAction(question) {
  const box = dialog();
  document.getElementById('confirm-text').textContent = question;
  return new Promise((resolve) => {
    box.addEventListener('close', () => resolve(box.returnValue === 'ok'), { once: true });
    box.returnValue = '';
    box.showModal();
  });
}

/** Shows a short message in the corner. */
export function toast(text) {
  const element = document.getElementById('toast');
  element.textContent = text;
  element.hidden = false;
}

/** Posts an action; resolves with the server's answer, or throws its error message. */
async function post(settings, name, body) {
  const response = await fetch(`/api/actions/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-wakame-token': settings.token },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${answer.error?.code ?? response.status}: ${answer.error?.message ?? ''}`);
  return answer;
}

/** The buttons of one queue row, per what the server allows. */
export function actionButtons(settings, queue) {
  const buttons = [];
  if (!settings.allowActions) return buttons;
  if (queue.deadLetter && settings.replay) {
    buttons.push(
      button('Replay', `replay-${queue.name}`, async () => {
        const question = `Replay the ${queue.ready} dead letter(s) of '${queue.name}' to the queues they died in?`;
        if (!(await confirmAction(question))) return;
        const { replayed, skipped, failed } = await post(settings, 'replay', { queue: queue.name });
        const left = skipped.length + failed.length;
        toast(
          `Replayed ${replayed} message(s) from ${queue.name}.${left > 0 ? ` ${left} stayed (see the CLI's dead-letters).` : ''}`,
        );
      }),
    );
  }
  buttons.push(
    button('Purge', `purge-${queue.name}`, async () => {
      const question = `Purge the ${queue.ready} ready message(s) of '${queue.name}'? This cannot be undone.`;
      if (!(await confirmAction(question))) return;
      const { purged } = await post(settings, 'purge', { queue: queue.name });
      toast(`Purged ${purged} message(s) from ${queue.name}.`);
    }),
  );
  return buttons;
}

function button(text, id, onClick) {
  const element = document.createElement('button');
  element.type = 'button';
  element.className = 'danger';
  element.textContent = text;
  element.dataset.action = id;
  element.addEventListener('click', () => {
    onClick().catch((error) => toast(`Failed: ${error.message}`));
  });
  return element;
}
