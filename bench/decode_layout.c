#include "decode_layout.h"

static int64_t pages_for(int64_t keys, int64_t page_size)
{
    return (keys + page_size - 1) / page_size;
}

static void finish(struct decode_layout *l)
{
    l->capacity = decode_layout_longest(l, l->tokens);
    if (!l->page_size)
        return;
    l->pages_per_seq = pages_for(l->capacity, l->page_size);
    /* A batch outside the library's bounds is refused when the problem is built, before the
     * pool's size is used; 0 pages here just keeps the sum from overflowing first. */
    if (l->batch < 1 || l->batch > INT32_MAX)
        return;
    for (int64_t b = 0; b < l->batch; b++)
        l->num_pages += decode_layout_pages(l, b);
}

void decode_layout_for_loop(const struct bench_options *opt, struct decode_layout *l)
{
    *l = (struct decode_layout){.batch = opt->batch,
                                .tokens = opt->tokens,
                                .prompt = opt->prompt,
                                .ragged = opt->kv_len_count ? opt->kv_lens : NULL,
                                .page_size = opt->page_size};
    finish(l);
}

void decode_layout_for_compare(const struct bench_options *opt, struct decode_layout *l)
{
    *l = (struct decode_layout){.batch = opt->batch,
                                .tokens = 1,
                                .prompt = opt->seq_kv - 1,
                                .page_size = opt->page_size};
    finish(l);
}

int64_t decode_layout_start(const struct decode_layout *l, int64_t b)
{
    return l->ragged ? l->ragged[b] : l->prompt;
}

int64_t decode_layout_pages(const struct decode_layout *l, int64_t b)
{
    return pages_for(decode_layout_start(l, b) + l->tokens, l->page_size);
}

int64_t decode_layout_longest(const struct decode_layout *l, int64_t step)
{
    int64_t longest = l->prompt; /* 0 when ragged */
    for (int64_t b = 0; l->ragged && b < l->batch; b++)
        if (l->ragged[b] > longest)
            longest = l->ragged[b];
    return longest + step;
}
