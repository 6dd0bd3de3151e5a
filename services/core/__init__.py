"""The pipeline's domain logic, one implementation per concept, called by every service and the evaluation.

Pure: no Kafka, no HTTP, nothing built at import. `reading` turns frames into observations and a behaviour
summary (both summarizer backends), `decompose` a summary into a validated optimization request (rules and
LLM backends), `assortment` a request into the recommendation (MNL solvers and the one Recommendation
builder); `business_rules` are the tenants' rules merged into requests."""
