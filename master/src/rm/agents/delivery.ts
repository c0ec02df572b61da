// How the master takes a sequenced agent message (see protocol/src/agent.ts, "Delivery"): given the highest seq of
// the agent's outbox it has stored, a message is stored (the next one), acknowledged again without storing (a
// repeat: the agent did not get the acknowledgement), or ignored (past a gap: an earlier message failed to store;
// the agent sends it again, then the rest, in order). Storing strictly in order keeps the acknowledgement
// cumulative: "everything up to N is stored".
export type Delivery = 'store' | 'repeat' | 'gap';

export function deliveryOf(storedSeq: number, seq: number): Delivery {
  if (seq <= storedSeq) return 'repeat';
  return seq === storedSeq + 1 ? 'store' : 'gap';
}
