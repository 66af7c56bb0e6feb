/**
 * Asks the person before something they cannot undo (replacing or deleting a document), in the
 * page's own modal `<dialog>`: focus moves into it, Escape and "Keep it" say no.
 */
export function confirmAction(options: { title: string; text: string; confirm: string }): Promise<boolean> {
  const dialog = document.getElementById('confirm') as HTMLDialogElement;
  dialog.querySelector('#confirm-title')!.textContent = options.title;
  dialog.querySelector('#confirm-text')!.textContent = options.text;
  dialog.querySelector('#confirm-ok')!.textContent = options.confirm;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    (dialog.querySelector('#confirm-cancel') as HTMLButtonElement).focus();
  });
}
