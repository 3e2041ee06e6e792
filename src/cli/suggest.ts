// "Did you mean ...?" for a mistyped command or flag, as the docker CLI offers. The closest
// candidate by edit distance, only when it is close enough that the guess is likely
// right: one edit for words of one or two letters, otherwise a third of the length, at
// least two (a swapped pair, the commonest typo, is two edits) and at most three (cobra's
// default is two for all lengths).
import { closest, distance } from 'fastest-levenshtein';

export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  if (!word || candidates.length === 0) return undefined;
  const best = closest(word, [...candidates]);
  const allowed = word.length <= 2 ? 1 : Math.min(3, Math.max(2, Math.floor(word.length / 3)));
  // A candidate the word starts (`ls --filt`) is as good a guess as a near spelling.
  if (distance(word, best) <= allowed) return best;
  return candidates.find((c) => c.startsWith(word) && word.length >= 3);
}

/** ` Did you mean "create"?` or nothing: appended to the error line. */
export function didYouMean(word: string, candidates: readonly string[], show: (c: string) => string = (c) => `"${c}"`): string {
  const m = closestMatch(word, candidates);
  return m ? ` Did you mean ${show(m)}?` : '';
}
