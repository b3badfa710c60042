from django import forms

from reviewer.models import User


class PersonCreateForm(forms.Form):
    username = forms.CharField(max_length=150, label="User name")
    role = forms.ChoiceField(choices=User.Role.choices, initial=User.Role.REVIEWER)
    email = forms.EmailField(required=False)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to generate one; it is shown once.",
    )

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if not username:
            raise forms.ValidationError("A user needs a user name.")
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(f"A user called {username!r} exists already.")
        return username


class PersonActionForm(forms.Form):
    """Deactivate, reactivate or reset the password of one person."""

    ACTIONS = (("deactivate", "Deactivate"), ("activate", "Reactivate"), ("reset_password", "Reset password"))
    action = forms.ChoiceField(choices=ACTIONS, error_messages={"invalid_choice": "Unknown action “%(value)s”."})
