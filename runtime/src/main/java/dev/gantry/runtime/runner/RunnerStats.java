package dev.gantry.runtime.runner;

/**
 * A snapshot of a runner's counters.
 *
 * @param steps              decode calls
 * @param batchedSteps       decode calls that carried tokens of two or more sequences
 * @param maxSequencesInStep the most sequences one decode carried
 * @param sequenceSteps      the sum over steps of the sequences each carried (average = sequenceSteps / steps)
 * @param decodeNanos        time spent inside the engine's decode (queuing the work: the device may still be busy)
 * @param waitNanos          time spent waiting for the device to finish a decode
 * @param sampleNanos        time spent sampling (on the host, or reading the device's choices)
 * @param stepNanos          time of whole steps (batch building, decode, sampling and hand-off)
 * @param promptBudget       prompt tokens the next step may take (the adaptive batching's current choice)
 * @param maxActive          sequences the runner admits now (the adaptive batching's current choice)
 * @param embeddings         embedding inputs completed
 * @param mixedSteps         decode calls that carried embedding tokens together with tokens of generations
 * @param reusedPromptTokens prompt tokens not decoded because a finished generation's cells held them already
 * @param kvCellsParked      cells finished generations keep for a request that starts the same way (freed first
 *                           when cells run short; not in {@code kvCellsUsed})
 * @param forwardPasses      forward passes the engine made of the decodes (several when a step's sequence ids do
 *                           not form one run, or its prompt chunks differ in length); 0 when the engine does not
 *                           count them
 * @param gapFillers         placeholder tokens decoded to close gaps between a step's sequence ids
 * @param parkedFillers      of those, the ones at a parked slot (a finished generation's cells kept inside the run
 *                           of ids for a request that starts the same way)
 * @param idMoves            sequences moved down into a gap between ids that new requests left open
 * @param aheadTokens        prompt tokens decoded ahead: queued on the device while the step before them was
 *                           sampled (of {@code promptTokens})
 */
public record RunnerStats(long steps, long batchedSteps, int maxSequencesInStep, long sequenceSteps,
                          long promptTokens, long generatedTokens, int active, int waiting, int kvCellsUsed,
                          int kvCells, long completed, long cancelled, long rejected, long preemptions,
                          long decodeNanos, long waitNanos, long sampleNanos, long stepNanos, int promptBudget,
                          int maxActive, long embeddings, long mixedSteps, long reusedPromptTokens,
                          int kvCellsParked, long forwardPasses, long gapFillers, long parkedFillers,
                          long idMoves, long aheadTokens) {}
