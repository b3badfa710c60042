"""Django forms for every page POST (and the audit filter): pages refuse bad input with the same words as the
services and the API, and show the errors beside the fields or in the page's messages."""


def form_error_text(form) -> str:
    """A form's errors as one sentence list, for pages that answer a POST by redirecting with a message.

    Each field's messages are written to stand alone ("Batch size must be ..."), so no label is prefixed.
    """
    return " ".join(str(message) for messages in form.errors.values() for message in messages)
