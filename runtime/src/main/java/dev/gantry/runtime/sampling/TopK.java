package dev.gantry.runtime.sampling;

/**
 * The scans a draw starts with: the k largest logits of a row (or of a range of it) into a heap.
 *
 * <p>A Llama 3 row has 128,256 logits and a draw keeps 40 of them. Comparing each logit with the heap's floor costs
 * about half a nanosecond a logit, in a loop the JIT cannot vectorize (it may stop at any logit). So a long row is
 * seen as a matrix of {@link #COLUMNS} columns (logit i in column i mod 1024), a chunk (row) of 1024 at a time: each
 * chunk is copied to a small array of its own, from where a loop over matching indexes, which the JIT turns into
 * vector instructions, keeps each column's largest logit, for each group of {@link #GROUP} rows and for the whole.
 * The k-th largest column maximum is a floor no candidate can be below (k columns each hold a logit at least that
 * large), and only the groups of the columns that reach it are read logit by logit: for a model's row, about k
 * groups of 4 logits. (A vector maximum over one array at two offsets does not compile to vector instructions: the
 * JIT cannot rule out that the arrays overlap. A whole column read by strides touched half the row's cache lines
 * for k = 40.)
 *
 * <p>The result is that of one pass over every logit: the candidates are the k best in a total order (larger logit
 * first, of equal logits the smaller token id), whatever order they are offered in. NaN and -inf are never
 * candidates; a group whose column maximum is NaN is read.
 */
final class TopK {
    private TopK() {
    }

    /** Columns of the matrix a long row is seen as. */
    static final int COLUMNS = 1024;
    /** Rows (chunks) a group: a group keeps its own column maxima; a column is read where they reach the floor. */
    static final int GROUP = 4;

    /** Per thread: a chunk of the row, the column maxima of each group and of all, a heap over them. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        final float[] chunk = new float[COLUMNS];
        final float[] maxima = new float[COLUMNS];
        float[][] groups = new float[0][];
        int groupCount;
        final float[] values = new float[COLUMNS / 8];
        final int[] ids = new int[COLUMNS / 8];

        void groups(int n) {
            if (groups.length < n) {
                float[][] more = java.util.Arrays.copyOf(groups, n);
                for (int g = groups.length; g < n; g++) {
                    more[g] = new float[COLUMNS];
                }
                groups = more;
            }
            groupCount = n;
        }
    }

    /** {@code -Dgantry.sampleColumns=false} reads every row logit by logit, as before (for measurements). */
    private static final boolean ENABLED = !"false".equals(System.getProperty("gantry.sampleColumns"));

    /** Whether a range of {@code length} logits with {@code k} candidates is read by columns. */
    static boolean byColumns(int length, int k) {
        return ENABLED && length >= 8 * COLUMNS && k >= 1 && k <= COLUMNS / 8;
    }

    /**
     * The k best finite logits of {@code row[from..to)} into a heap, worst first, in {@code values}/{@code ids}; returns
     * its size. By columns where {@link #byColumns}, else logit by logit: the same candidates either way.
     */
    static int heap(float[] row, int from, int to, int k, float[] values, int[] ids) {
        if (!byColumns(to - from, k)) {
            return heapOf(row, from, to, k, values, ids);
        }
        columnMaxima(row, from, to);
        return heapByColumns(row, from, to, k, values, ids);
    }

    /**
     * Keeps the column maxima of {@code row[from..to)} for a {@link #heapByColumns} of the same range on the same
     * thread. Only where {@link #byColumns}.
     */
    private static void columnMaxima(float[] row, int from, int to) {
        Scratch s = SCRATCH.get();
        int chunks = (to - from + COLUMNS - 1) / COLUMNS;
        s.groups((chunks + GROUP - 1) / GROUP);
        for (int c = 0; c < chunks; c++) {
            int base = from + c * COLUMNS;
            int length = Math.min(COLUMNS, to - base);
            float[] maxima = s.groups[c / GROUP];
            if (c % GROUP == 0) { // a group's first chunk is its maxima so far
                System.arraycopy(row, base, maxima, 0, length);
                java.util.Arrays.fill(maxima, length, COLUMNS, Float.NEGATIVE_INFINITY); // a short last chunk
            } else if (length == COLUMNS) {
                System.arraycopy(row, base, s.chunk, 0, COLUMNS); // to index 0 of its own array: see maxima()
                maxima(maxima, s.chunk);
            } else {
                for (int j = 0; j < length; j++) {
                    maxima[j] = Math.max(maxima[j], row[base + j]);
                }
            }
        }
        System.arraycopy(s.groups[0], 0, s.maxima, 0, COLUMNS);
        for (int g = 1; g < s.groupCount; g++) {
            maxima(s.maxima, s.groups[g]);
        }
    }

    /** Both arrays at the same index, so the JIT may use vector instructions (NaN wins: such a column is read). */
    private static void maxima(float[] maxima, float[] chunk) {
        for (int j = 0; j < COLUMNS; j++) {
            maxima[j] = Math.max(maxima[j], chunk[j]);
        }
    }

    /**
     * The k best finite logits of {@code row[from..to)} into a heap, worst first, in {@code values}/{@code ids}, from
     * the column maxima the calling thread's {@link #columnMaxima} of that range kept; returns the heap's size.
     */
    private static int heapByColumns(float[] row, int from, int to, int k, float[] values, int[] ids) {
        Scratch s = SCRATCH.get();
        float[] maxima = s.maxima;
        // the k-th largest column maximum: k columns hold a logit at least this large, so the k-th largest logit is too
        float bound = add(maxima, 0, COLUMNS, k, s.values, s.ids, 0) == k ? s.values[0] : Float.NEGATIVE_INFINITY;
        int size = 0;
        int span = GROUP * COLUMNS;
        for (int j = 0; j < COLUMNS; j++) {
            if (below(maxima[j], bound)) {
                continue;
            }
            for (int g = 0; g < s.groupCount; g++) {
                if (below(s.groups[g][j], bound)) {
                    continue;
                }
                int end = (int) Math.min(to, (long) from + (long) (g + 1) * span);
                for (int i = from + g * span + j; i < end; i += COLUMNS) {
                    float v = row[i];
                    if (!(v >= bound) || v == Float.NEGATIVE_INFINITY) { // NaN fails the first test
                        continue;
                    }
                    if (size < k) {
                        values[size] = v;
                        ids[size] = i;
                        siftUp(values, ids, size++);
                    } else if (v > values[0] || (v == values[0] && i < ids[0])) { // better in the total order
                        values[0] = v;
                        ids[0] = i;
                        siftDown(values, ids, 0, size);
                    }
                }
            }
        }
        return size;
    }

    /** Whether a maximum shows its logits all below the floor (a NaN maximum does not: those logits are read). */
    private static boolean below(float max, float bound) {
        return !(max >= bound) && max == max;
    }

    /**
     * The k largest finite logits of {@code logits[from..to)} into a heap, worst first, in {@code values}/{@code ids};
     * returns its size. Of equal logits the earlier tokens are kept (a later one must be larger to take a place).
     */
    private static int heapOf(float[] logits, int from, int to, int k, float[] values, int[] ids) {
        return add(logits, from, to, k, values, ids, 0);
    }

    /**
     * Offers {@code logits[from..to)} to a heap of {@code size} (at most k) and returns its new size: fills it up to
     * k, then keeps the best.
     */
    private static int add(float[] logits, int from, int to, int k, float[] values, int[] ids, int size) {
        int i = from;
        for (; i < to && size < k; i++) {
            float v = logits[i];
            if (!(v > Float.NEGATIVE_INFINITY)) { // banned (-inf) or NaN: never a candidate
                continue;
            }
            values[size] = v;
            ids[size] = i;
            siftUp(values, ids, size++);
        }
        if (size == k) {
            offer(logits, i, to, values, ids, size);
        }
        return size;
    }

    /**
     * Sorts a heap of candidates best first: by logit, descending, equal logits by token id, ascending (the heap's
     * order), the same order whether the row was scanned whole or in parts.
     */
    static void sortCandidates(float[] values, int[] ids, int size) {
        for (int end = size - 1; end > 0; end--) { // heap sort: repeatedly move the worst to the end
            swap(values, ids, 0, end);
            siftDown(values, ids, 0, end);
        }
    }

    /**
     * The hot loop: offers {@code logits[from..end)} to a full min-heap of {@code size}. An inner loop only
     * searches for the next logit above the heap's floor (after the first few thousand almost none is); the offer
     * happens outside it. One loop that compared and offered each logit ran at about 2 ns a logit or 0.5 ns,
     * depending on how the JIT happened to shape it; a search loop without stores or calls it compiles well.
     */
    private static void offer(float[] logits, int from, int end, float[] values, int[] ids, int size) {
        float floor = values[0];
        int i = from;
        while (true) {
            while (i < end && !(logits[i] > floor)) { // NaN never beats the floor
                i++;
            }
            if (i >= end) {
                return;
            }
            values[0] = logits[i];
            ids[0] = i;
            siftDown(values, ids, 0, size);
            floor = values[0];
            i++;
        }
    }

    // The heap's order is total: a candidate is worse than another with a smaller logit, or with the same logit
    // and a larger token id. So of equal logits the earliest tokens stay, whichever way the row was scanned.
    private static boolean worse(float[] values, int[] ids, int a, int b) {
        return values[a] < values[b] || (values[a] == values[b] && ids[a] > ids[b]);
    }

    private static void siftUp(float[] values, int[] ids, int i) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (!worse(values, ids, i, parent)) {
                return;
            }
            swap(values, ids, parent, i);
            i = parent;
        }
    }

    private static void siftDown(float[] values, int[] ids, int i, int size) {
        while (true) {
            int l = 2 * i + 1;
            if (l >= size) {
                return;
            }
            int worst = l + 1 < size && worse(values, ids, l + 1, l) ? l + 1 : l;
            if (!worse(values, ids, worst, i)) {
                return;
            }
            swap(values, ids, i, worst);
            i = worst;
        }
    }

    private static void swap(float[] values, int[] ids, int a, int b) {
        float v = values[a];
        values[a] = values[b];
        values[b] = v;
        int t = ids[a];
        ids[a] = ids[b];
        ids[b] = t;
    }
}
