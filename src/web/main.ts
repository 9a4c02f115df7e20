/** The browser client's entry: picks the page from the URL. */
import { stagePage } from './pages/stage-page.js';
import { startPage } from './pages/start-page.js';

const root = document.getElementById('app') as HTMLElement;
const spaceMatch = /^\/s\/([a-z2-9]{10})$/.exec(location.pathname);

if (spaceMatch?.[1]) {
  const token = new URLSearchParams(location.search).get('t') ?? '';
  void stagePage(root, spaceMatch[1], token);
} else {
  startPage(root);
}
