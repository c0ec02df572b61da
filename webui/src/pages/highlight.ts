// The trial the experiment page's tabs point at together: the curves, the trials table and the charts
// all show the same selected or hovered trial.
export interface Highlight {
  /** Sticky selection (a clicked row or curve). */
  selected: number | null;
  /** Transient (mouse over a row or a curve). */
  hovered: number | null;
  select: (id: number | null) => void;
  hover: (id: number | null) => void;
}
