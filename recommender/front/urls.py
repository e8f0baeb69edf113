from django.urls import path

from recommender.front import views

app_name = "front"
urlpatterns = [
    path("", views.show_home, name="home"),
    path("links/<int:link_id>/", views.show_link, name="link"),
    path("for-me/", views.show_for_me, name="for-me"),
    path("widget/", views.show_widget_docs, name="widget-docs"),
    path("widget/books/<int:book_id>/", views.show_widget_book, name="widget-book"),
]
