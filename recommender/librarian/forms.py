from django import forms

from embeddings.params import TrainParams


class TrainingForm(forms.Form):
    """Hyperparameters of a run; a blank field keeps the documented default of embeddings.params.TrainParams."""

    epochs = forms.IntegerField(min_value=1, max_value=1000, required=False)
    dim = forms.IntegerField(min_value=2, max_value=512, required=False, label="Dimensions")
    negative_ratio = forms.FloatField(min_value=0.5, max_value=20, required=False)
    min_link_count = forms.IntegerField(min_value=1, max_value=1000, required=False, label="Minimum link count")
    batch_positives = forms.IntegerField(min_value=16, max_value=65536, required=False)
    learning_rate = forms.FloatField(min_value=1e-5, max_value=1, required=False)
    mode = forms.ChoiceField(
        choices=[("", "default"), ("classification", "classification"), ("regression", "regression")], required=False
    )
    negative_sampling = forms.ChoiceField(
        choices=[("", "default"), ("uniform", "uniform"), ("popularity", "by link popularity")], required=False
    )
    seed = forms.IntegerField(min_value=0, required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        defaults = TrainParams().to_dict()
        defaults["min_link_count"] = "by catalogue size"
        defaults["epochs"] = "by catalogue size"
        for name, field in self.fields.items():
            if isinstance(field, forms.ChoiceField):
                field.choices = [("", f"default ({defaults[name]})"), *field.choices[1:]]
            else:
                field.widget.attrs["placeholder"] = f"default: {defaults[name]}"

    def params(self) -> dict:
        return {name: value for name, value in self.cleaned_data.items() if value not in (None, "")}
