"""Django forms for every page POST (and the audit filter): pages refuse bad input with the same words as the
services, and show the errors beside the fields."""
