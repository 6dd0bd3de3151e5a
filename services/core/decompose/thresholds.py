"""The thresholds the rules decomposer (rules.py), its hedges (hedges.py) and the repair (repair.py, widening a band)
share: how much evidence makes a budget, a rating floor or a hedge."""

DEFAULT_K = 8  # the panel size when a request leaves k unset

# Price band rule.
PRICE_BAND_MIN_VIEWS = 3  # need a few prices before claiming a budget by the plain rule
PRICE_BAND_MAX_RATIO = 1.6  # high/low within the band: the prices must look like one budget
PRICE_BAND_MIN_SHARE = 2 / 3  # the band must hold most views, so one outlier view neither makes nor breaks it
# Fewer or noisier views (two products; a third of views elsewhere) make a band when at least half of them
# cluster so tightly that random products of the type would rarely do so: the same test as the rating floor.
PRICE_BAND_CHANCE = 0.1
# Views too far apart for a band, all in one end of their type's prices, make a one-sided budget: an end is a quarter
# (four views in the cheaper half are no "cheap" habit: a shopper who opens well-rated products may open those).
PRICE_END_SHARE = 0.25
# Relaxation widens a band in small steps (each side by this factor per step, up to PRICE_WIDEN_FACTOR), so
# it stops at the tightest band around the shopper's prices that still fills the panel.
PRICE_BAND_STEP = 1.02
PRICE_WIDEN_FACTOR = 2.0  # the widest relaxation step: halve the lower bound, double the upper bound

# Hedges (Constraints.at_least): where the evidence cannot yet tell two readings of the shopper apart, half the
# panel goes to each instead of betting it all on one: whichever the shopper means, half the panel is right
# (the best worst case), and the next views settle it.
HEDGE_SHARE = 0.5
HEDGE_RATING_QUANTILE = 0.75  # hedges of a view rated high for its type keep to the type's upper quartile

# Rating rule: the shopper's floor is inferred from the ratings of what they opened, when opening only
# products that well rated would be unlikely by chance (binomial tail over the catalog's own ratings).
MIN_RATING_MIN_VIEWS = 3  # fewer views than this say nothing about a rating habit
MIN_RATING_CHANCE = 0.1  # at most this likely by chance -> a habit, not luck
MIN_RATING_OUTLIER_SHARE = 0.25  # up to this share of views may fall below the floor (a noisy shopper)
MIN_RATING_SLACK = 0.1  # a little below the lowest kept rating, so a near-twin stays in
